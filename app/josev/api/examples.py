"""One valid example per message name and type: documentation that the tests keep honest."""

from __future__ import annotations

from typing import Any

_TS = "2026-11-22T10:00:00+00:00"
_PHASES = {"l1": 230.0, "l2": 231.0, "l3": 229.5}
_DC = {
    "present_voltage": 400.0,
    "present_current": 120.0,
    "max_current": 200.0,
    "min_current": 0.0,
    "max_voltage": 920.0,
    "min_voltage": 150.0,
    "max_power": 150000.0,
    "current_reg_tolerance": 5.0,
    "peak_current_ripple": 2.0,
    "energy_to_be_delivered": 50000.0,
    "isolation_status": "valid",
    "evse_power_ramp_limit": 10000.0,
}
_STATUS_AND_LIMITS = {
    "evses": [
        {
            "evse_id": 1,
            "status_code": "evse_ready",
            "dc": _DC,
            "dc_bpt": {
                "evse_max_discharge_power": 50000.0,
                "evse_min_discharge_power": 0.0,
                "evse_max_discharge_current": 100.0,
                "evse_min_discharge_current": 0.0,
            },
        },
        {
            "evse_id": 2,
            "status_code": "evse_not_ready",
            "ac": {
                "max_current": {"l1": 32.0, "l2": 32.0, "l3": 32.0},
                "nominal_voltage": 230.0,
                "rcd_error": False,
            },
        },
    ]
}
_METER = {
    "evse_id": 1,
    "timestamp": _TS,
    "voltage": _PHASES,
    "current": {"l1": 10.0, "l2": 10.0, "l3": 10.0},
    "power_factor": 0.98,
    "dc_current": 120.0,
    "dc_voltage": 400.0,
    "frequency": 50.0,
    "total_active_energy_imported": 123456.0,
    "total_reactive_energy_imported": 1000.0,
    "soc": 42.0,
}
_SERVICE_STATUS = {
    "service": "iso15118",
    "software_version": "0.1.0",
    "api_version": "1.0.0",
    "status": "ready",
}
_WS = {
    "status": "connected",
    "identity": "CS001",
    "csms_url": "wss://csms.example/ocpp",
    "security_profile": 2,
}

EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("device_model", "request"): {},
    ("device_model", "response"): {
        "model": "JX-150",
        "vendor": "Josev",
        "identity": "CS001",
        "ocpp_csms_url": "wss://csms.example/ocpp",
        "security_profile": 2,
        "serial_number": "SN-0001",
        "firmware_version": "0.1.0",
        "evses": [
            {
                "ocpp_id": 1,
                "iso15118_id": "DE*JSV*E0001*1",
                "power_kw": 150.0,
                "supply_phases": 0,
                "connectors": [{"id": 1, "connector_type": "cCCS2"}],
            },
        ],
        "components": [
            {
                "name": "EVSE",
                "evse_id": 1,
                "variables": [
                    {
                        "name": "Power",
                        "value": "150000",
                        "unit": "W",
                        "mutability": "ReadOnly",
                        "data_type": "decimal",
                    }
                ],
            },
        ],
    },
    ("cs_status_and_limits", "request"): {},
    ("cs_status_and_limits", "response"): _STATUS_AND_LIMITS,
    ("cs_status_and_limits", "update"): _STATUS_AND_LIMITS,
    ("cs_parameters", "request"): {},
    ("cs_parameters", "response"): {
        "sw_version": "0.1.0",
        "hw_version": "sim-1",
        "number_of_evses": 1,
        "parameters": [
            {
                "evse_id": 1,
                "supports_eim": True,
                "network_interface": "eth1",
                "connectors": [
                    {
                        "id": 1,
                        "services": {
                            "dc": {
                                "connector_type": "DC_extended",
                                "control_mode": "dynamic",
                                "nominal_voltage": 400.0,
                            },
                            "dc_bpt": {
                                "connector_type": "DC_extended",
                                "control_mode": "scheduled",
                                "nominal_voltage": 400.0,
                                "bpt_channel": "unified",
                                "generator_mode": "grid_following",
                            },
                        },
                    }
                ],
            },
        ],
    },
    ("service_status", "request"): {"service": "iso15118"},
    ("service_status", "response"): _SERVICE_STATUS,
    ("service_status", "update"): _SERVICE_STATUS,
    ("cp_status", "update"): {
        "evse_id": 1,
        "connector_id": 1,
        "state": "B2",
        "max_voltage": 9.0,
        "min_voltage": -12.0,
        "duty_cycle": 5.0,
    },
    ("cp_pwm", "request"): {"evse_id": 1, "hlc": True, "error_state": False, "fault_state": False},
    ("cp_pwm", "response"): {"evse_id": 1, "status": "valid"},
    ("slac_status", "update"): {"evse_id": 1, "run_id": "0102030405060708", "status": "matched"},
    ("hlc_charging", "update"): {"evse_id": 1, "status": True, "action": "resume"},
    ("cs_contactor_status", "request"): {"evse_id": 1},
    ("cs_contactor_status", "response"): {"evse_id": 1, "status": "closed"},
    ("cs_contactor_status", "update"): {"evse_id": 1, "status": "opened", "info": "session end"},
    ("cs_connector", "request"): {"evse_id": 1, "connector_id": 1, "action": "lock"},
    ("cs_connector", "response"): {"evse_id": 1, "connector_id": 1, "status": "locked"},
    ("change_availability", "request"): {"operational_status": "inoperative", "evse_id": 1},
    ("change_availability", "response"): {"status": "accepted"},
    ("change_availability", "update"): {"operational_status": "operative"},
    ("reset", "request"): {},
    ("reset", "response"): {"status": "accepted"},
    ("cable_check", "request"): {"evse_id": 1, "cable_check_action": "start"},
    ("cable_check", "response"): {
        "evse_id": 1,
        "cable_check_status": "finished",
        "isolation_level": "valid",
    },
    ("power_electronics_setpoint", "request"): {
        "evse_id": 1,
        "ev_limits": {"maximum_voltage": 450.0, "minimum_voltage": 200.0},
        "is_precharge": False,
        "dc": {"voltage": 400.0, "charge_current": 120.0},
    },
    ("power_electronics_setpoint", "response"): {"evse_id": 1, "status": "accepted"},
    ("meter_values", "request"): {"timestamp": _TS, "evse_id": 1},
    ("meter_values", "response"): _METER,
    ("meter_values", "update"): _METER,
    ("authorization", "request"): {
        "evse_id": 1,
        "id_token": "04A1B2C3D4E5F6",
        "token_type": "ISO14443",
    },
    ("authorization", "response"): {"status": "accepted"},
    ("authorization", "update"): {
        "evse_id": 1,
        "id_token": "DEJSVC1234567",
        "token_type": "e_maid",
        "status": "accepted",
    },
    ("process_authorized_token", "request"): {
        "evse_id": 1,
        "token_type": "ISO14443",
        "id_token": "04A1B2C3D4E5F6",
    },
    ("process_authorized_token", "response"): {"status": "accepted"},
    ("stop_charging", "request"): {"evse_id": 1},
    ("stop_charging", "response"): {"evse_id": 1, "status": "accepted"},
    ("transaction_status", "update"): {
        "transaction_id": "tx-0001",
        "evse_id": 1,
        "status": "started",
        "id_token": "04A1B2C3D4E5F6",
        "token_type": "ISO14443",
    },
    ("websocket_status", "request"): {},
    ("websocket_status", "response"): _WS,
    ("websocket_status", "update"): _WS,
    ("display_and_personal_msg", "update"): {
        "display_msg_trigger_reason": "authorized",
        "content": "Welcome",
        "message_state": "charging",
        "evse_id": 1,
        "currency": "EUR",
    },
    ("notify_event", "update"): {
        "event_id": 7,
        "timestamp": _TS,
        "tech_code": "IMD_FAULT",
        "tech_info": "isolation below 100 kOhm",
        "evse_id": 1,
    },
    ("update_firmware", "request"): {
        "request_id": 1,
        "location": "https://fw.example/bundle.raucb",
        "retrieve_date_time": _TS,
        "retries": 3,
        "retry_interval": 60,
    },
    ("update_firmware", "response"): {"status": "accepted"},
    ("firmware_status", "update"): {"status": "Downloading", "request_id": 1},
    ("upload_logs", "request"): {
        "request_id": 2,
        "log_type": "DiagnosticsLog",
        "remote_location": "https://logs.example/upload",
    },
    ("upload_logs", "response"): {"status": "accepted", "filename": "josev-logs.tar.gz"},
    ("log_status", "update"): {"status": "Uploading", "request_id": 2},
    ("generate_csr", "request"): {
        "certificate_type": "v2g20_certificate",
        "common_name": "SECC01",
        "organization_name": "Josev",
        "country_name": "DE",
        "algorithm": "ECDSA_SHA512",
        "evse_id": 1,
    },
    ("generate_csr", "response"): {
        "status": "accepted",
        "csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n",
    },
    ("certificate_installation_status", "update"): {
        "certificate_type": "v2g_certificate",
        "private_key_path": "/var/lib/josev/pki/secc-2.tss",
        "status": "installed",
    },
    ("iso15118_state_info", "update"): {
        "evse_id": 1,
        "session_status": "ChargingLoop",
        "info": {
            "session_id": "0A0B0C0D0E0F1011",
            "evcc_id": "02AABBCCDDEE",
            "evcc_mac": "02:aa:bb:cc:dd:ee",
            "selected_payment_option": "EIM",
            "protocol": "ISO_15118_20_DC",
            "stop_action": "Terminate",
        },
    },
    ("iso15118_authorization", "request"): {
        "evse_id": 1,
        "id_token": "DEJSVC1234567",
        "token_type": "e_maid",
        "token_data": {
            "iso15118_hash_data": [
                {
                    "hash_algorithm": "SHA256",
                    "issuer_name_hash": "aa",
                    "issuer_key_hash": "bb",
                    "serial_number": "01",
                    "responder_url": "http://ocsp.example",
                }
            ]
        },
    },
    ("iso15118_authorization", "response"): {
        "status": "accepted",
        "certificate_status": "accepted",
    },
    ("iso15118_get_ev_certificate", "request"): {
        "action": "install",
        "iso15118_schema_version": "urn:iso:15118:2:2013:MsgDef",
        "exi_request": "gJgCAA==",
    },
    ("iso15118_get_ev_certificate", "response"): {"status": "accepted", "exi_response": "gJgCAA=="},
    ("iso15118_charge_limit", "update"): {"evse_id": 1, "limit": -11000.0, "unit": "W"},
}
