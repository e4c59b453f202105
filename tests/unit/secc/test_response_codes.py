"""Response-code paths: bad sequences, unknown sessions, wrong parameters, EV errors, bad input.

A scripted EV sends hand-made messages (through the real codec) to the SECC core; after every
FAILED answer the session ends and the station is left available."""

from __future__ import annotations

from typing import Any

import pytest

from josev.evcc.common.ev import EvConfig, EvModel
from josev.exi import decode, encode
from josev.exi.generated import din, iso2
from josev.exi.generated import iso20_CommonMessages as cm
from josev.exi.generated import iso20_DC as dc
from josev.sap import evcc_request
from josev.secc.common.actions import Action, ApiRequest, ApiUpdate, EndSession, Send
from josev.secc.common.core import SeccCore
from josev.secc.common.session import SeccConfig
from josev.secc.iso20.session import r20
from josev.secc.loopback import MemoryStation, default_limits
from josev.v2gtp import PayloadType

SAP = int(PayloadType.EXI)
COMMON = int(PayloadType.EXI_20_COMMON)
DCPT = int(PayloadType.EXI_20_DC)


class Script:
    def __init__(self, protocol: str, ac: bool = False, **secc: Any) -> None:
        self.station = MemoryStation(EvModel(EvConfig()), ac=ac)
        self.core = SeccCore(SeccConfig(**secc), self.station.state, epoch=1.7e9,
                             new_session_id=lambda: b"\x11" * 8)
        self.now = 0.0
        self.actions: list[Action] = list(self.core.start(0.0))
        res = self.send(SAP, encode(evcc_request([protocol])))
        assert res is not None
        self.sid = b"\x00" * 8 if protocol.startswith("ISO20") else b"\x00"

    def send(self, pt: int, data: bytes) -> Send | None:
        self.now += 0.01
        out = self.core.receive(pt, data, self.now)
        self.actions.extend(out)
        sends = [a for a in out if isinstance(a, Send)]
        return sends[-1] if sends else None

    def hdr20(self, mod: Any = cm, sid: bytes | None = None) -> Any:
        return mod.MessageHeaderType(SessionID=self.sid if sid is None else sid, TimeStamp=1)

    def req20(self, msg: Any) -> Any:
        family = type(msg).__module__.rsplit(".", 1)[1]
        pt = {"iso20_DC": DCPT, "iso20_AC": int(PayloadType.EXI_20_AC)}.get(family, COMMON)
        res = self.send(pt, encode(msg))
        assert res is not None
        return decode(res.data, family)

    def setup20(self) -> None:
        res = self.req20(cm.SessionSetupReqType(Header=self.hdr20(), EVCCID="EV1"))
        assert res.ResponseCode == "OK_NewSessionEstablished"
        self.sid = res.Header.SessionID

    def din(self, body: Any, sid: bytes | None = None) -> Any:
        msg = din.V2G_Message(Header=din.MessageHeaderType(
            SessionID=self.sid if sid is None else sid), Body=din.BodyType(BodyElement=body))
        res = self.send(SAP, encode(msg))
        assert res is not None
        return decode(res.data, "din").Body.BodyElement

    def ended(self) -> EndSession:
        ends = [a for a in self.actions if isinstance(a, EndSession)]
        assert len(ends) == 1
        states = [a.data for a in self.actions
                  if isinstance(a, ApiUpdate) and a.name == "iso15118_state_info"]
        assert states[-1] == {"evse_id": 1, "session_status": "Idle"}
        assert self.core.receive(COMMON, b"\x80", self.now + 1) == []   # nothing after the end
        return ends[0]


def test_iso20_sequence_error() -> None:
    s = Script("ISO20_DC")
    s.setup20()
    res = s.req20(cm.ServiceDiscoveryReqType(Header=s.hdr20()))
    assert res.ResponseCode == "FAILED_SequenceError"
    assert "out of sequence" in s.ended().reason


def test_iso20_request_before_session_setup_is_a_sequence_error() -> None:
    s = Script("ISO20_DC")
    res = s.req20(cm.AuthorizationSetupReqType(Header=s.hdr20()))
    assert res.ResponseCode in ("FAILED_SequenceError", "FAILED_UnknownSession")
    s.ended()


def test_iso20_unknown_session() -> None:
    s = Script("ISO20_DC")
    s.setup20()
    res = s.req20(cm.AuthorizationSetupReqType(Header=s.hdr20(sid=b"\x22" * 8)))
    assert res.ResponseCode == "FAILED_UnknownSession"
    s.ended()


def iso20_to_service_discovery(s: Script) -> None:
    s.setup20()
    assert s.req20(cm.AuthorizationSetupReqType(Header=s.hdr20())).ResponseCode == "OK"
    res = s.req20(cm.AuthorizationReqType(
        Header=s.hdr20(), SelectedAuthorizationService="EIM",
        EIM_AReqAuthorizationMode=cm.EIM_AReqAuthorizationModeType()))
    assert (res.ResponseCode, res.EVSEProcessing) == ("OK", "Finished")
    res = s.req20(cm.ServiceDiscoveryReqType(Header=s.hdr20()))
    assert res.ResponseCode == "OK"
    assert [x.ServiceID for x in res.EnergyTransferServiceList.Service] == [2]


def test_iso20_pnc_is_not_offered() -> None:
    s = Script("ISO20_DC")
    s.setup20()
    s.req20(cm.AuthorizationSetupReqType(Header=s.hdr20()))
    res = s.req20(cm.AuthorizationReqType(
        Header=s.hdr20(), SelectedAuthorizationService="PnC",
        PnC_AReqAuthorizationMode=cm.PnC_AReqAuthorizationModeType(
            Id="id1", GenChallenge=b"\x00" * 16,
            ContractCertificateChain=cm.ContractCertificateChainType(
                Certificate=b"\x30\x00", SubCertificates=cm.SubCertificatesType(
                    Certificate=[b"\x30\x00"])))))
    assert res.ResponseCode == "WARNING_AuthorizationSelectionInvalid"


def test_iso20_eim_rejected_by_the_station() -> None:
    s = Script("ISO20_DC", free_charging=False)
    s.core.ctx.authorized = False
    s.setup20()
    s.req20(cm.AuthorizationSetupReqType(Header=s.hdr20()))
    res = s.req20(cm.AuthorizationReqType(
        Header=s.hdr20(), SelectedAuthorizationService="EIM",
        EIM_AReqAuthorizationMode=cm.EIM_AReqAuthorizationModeType()))
    assert res.ResponseCode == "WARNING_EIMAuthorizationFailure"
    assert "rejected" in s.ended().reason


def test_iso20_service_detail_for_unknown_service() -> None:
    s = Script("ISO20_DC")
    iso20_to_service_discovery(s)
    res = s.req20(cm.ServiceDetailReqType(Header=s.hdr20(), ServiceID=1))
    assert res.ResponseCode == "FAILED_ServiceIDInvalid"
    s.ended()


@pytest.mark.parametrize(("service", "pset"), [(1, 1), (2, 9)])
def test_iso20_invalid_service_selection(service: int, pset: int) -> None:
    s = Script("ISO20_DC")
    iso20_to_service_discovery(s)
    res = s.req20(cm.ServiceSelectionReqType(
        Header=s.hdr20(), SelectedEnergyTransferService=cm.SelectedServiceType(
            ServiceID=service, ParameterSetID=pset)))
    assert res.ResponseCode == "FAILED_ServiceSelectionInvalid"
    s.ended()


def cpd(s: Script, vmax: float) -> Any:
    return s.req20(dc.DC_ChargeParameterDiscoveryReqType(
        Header=s.hdr20(dc), DC_CPDReqEnergyTransferMode=dc.DC_CPDReqEnergyTransferModeType(
            EVMaximumChargePower=r20(50000), EVMinimumChargePower=r20(0),
            EVMaximumChargeCurrent=r20(100), EVMinimumChargeCurrent=r20(0),
            EVMaximumVoltage=r20(vmax), EVMinimumVoltage=r20(min(vmax, 100)))))


def select(s: Script, pset: int) -> None:
    iso20_to_service_discovery(s)
    res = s.req20(cm.ServiceSelectionReqType(
        Header=s.hdr20(), SelectedEnergyTransferService=cm.SelectedServiceType(
            ServiceID=2, ParameterSetID=pset)))
    assert res.ResponseCode == "OK"


def test_iso20_wrong_charge_parameter() -> None:
    s = Script("ISO20_DC")
    select(s, 1)
    res = cpd(s, 100.0)    # below the station's 150 V minimum
    assert res.ResponseCode == "FAILED_WrongChargeParameter"
    assert "outside" in s.ended().reason


def test_iso20_control_mode_mismatch() -> None:
    s = Script("ISO20_DC")
    select(s, 1)    # parameter set 1 = dynamic
    assert cpd(s, 450.0).ResponseCode == "OK"
    res = s.req20(cm.ScheduleExchangeReqType(
        Header=s.hdr20(), MaximumSupportingPoints=12,
        Scheduled_SEReqControlMode=cm.Scheduled_SEReqControlModeType()))
    assert res.ResponseCode == "FAILED"
    s.ended()


def test_iso20_cable_check_fault_fails_the_session() -> None:
    s = Script("ISO20_DC")
    s.station.isolation = "fault"
    s.station.cable_check_time = 0.0
    select(s, 1)
    cpd(s, 450.0)
    s.req20(cm.ScheduleExchangeReqType(
        Header=s.hdr20(), MaximumSupportingPoints=12,
        Dynamic_SEReqControlMode=cm.Dynamic_SEReqControlModeType(
            DepartureTime=0, EVTargetEnergyRequest=r20(1, cm),
            EVMaximumEnergyRequest=r20(1, cm), EVMinimumEnergyRequest=r20(0, cm))))
    # CP still B: the SECC waits for C/D before it asks the station for a cable check.
    res = s.req20(dc.DC_CableCheckReqType(Header=s.hdr20(dc)))
    assert (res.ResponseCode, res.EVSEProcessing) == ("OK", "Ongoing")
    assert not [a for a in s.actions if isinstance(a, ApiRequest) and a.name == "cable_check"]
    s.station.set_cp("C2")
    res = s.req20(dc.DC_CableCheckReqType(Header=s.hdr20(dc)))
    assert res.EVSEProcessing == "Ongoing"
    assert [a.data["cable_check_action"] for a in s.actions
            if isinstance(a, ApiRequest) and a.name == "cable_check"] == ["start"]
    # The station's answers (start, then status) come back as API responses.
    from josev.api import models as m
    s.actions.extend(s.core.api_response("cable_check", m.CableCheckResponse(
        evse_id=1, cable_check_status="finished", isolation_level="fault"), s.now))
    res = s.req20(dc.DC_CableCheckReqType(Header=s.hdr20(dc)))
    assert res.ResponseCode == "FAILED"
    assert "isolation fault" in s.ended().reason


def test_undecodable_message_ends_the_session() -> None:
    s = Script("ISO20_DC")
    s.setup20()
    assert s.send(COMMON, b"\x80\xff\xff\xff") is None
    assert "undecodable" in s.ended().reason


def test_unused_payload_type_is_ignored() -> None:
    """[V2G2-800]: a payload type the protocol does not use is ignored, the session lives on."""
    s = Script("ISO20_DC")
    s.setup20()
    assert s.send(int(PayloadType.EXI_20_WPT), b"\x80\x00") is None
    assert not [a for a in s.actions if isinstance(a, EndSession)]
    assert s.req20(cm.AuthorizationSetupReqType(Header=s.hdr20())).ResponseCode == "OK"


def test_sap_failure_ends_without_a_session() -> None:
    station = MemoryStation(EvModel(EvConfig()))
    core = SeccCore(SeccConfig(protocols=("DIN",)), station.state)
    core.start(0.0)
    out = core.receive(SAP, encode(evcc_request(["ISO20_DC"])), 0.1)
    res = decode(next(a for a in out if isinstance(a, Send)).data, "appHand")
    assert res.ResponseCode == "Failed_NoNegotiation"
    assert any(isinstance(a, EndSession) and "no common protocol" in a.reason for a in out)


# -- DIN ----------------------------------------------------------------------------------------

def din_status(code: str = "NO_ERROR") -> din.DC_EVStatusType:
    return din.DC_EVStatusType(EVReady=True, EVErrorCode=code, EVRESSSOC=50)


def din_setup(s: Script) -> None:
    res = s.din(din.SessionSetupReqType(EVCCID=b"\x02\x00\x00\x00\x00\x01"))
    assert res.ResponseCode == "OK_NewSessionEstablished"
    s.sid = b"\x11" * 8


def test_din_sequence_error() -> None:
    s = Script("DIN")
    din_setup(s)
    res = s.din(din.CableCheckReqType(DC_EVStatus=din_status()))
    assert res.ResponseCode == "FAILED_SequenceError"
    s.ended()


def test_din_unknown_session() -> None:
    s = Script("DIN")
    din_setup(s)
    res = s.din(din.ServiceDiscoveryReqType(), sid=b"\x33" * 8)
    assert res.ResponseCode == "FAILED_UnknownSession"
    s.ended()


def test_din_payment_and_service_selection() -> None:
    s = Script("DIN")
    din_setup(s)
    assert s.din(din.ServiceDiscoveryReqType()).ResponseCode == "OK"
    res = s.din(din.ServicePaymentSelectionReqType(
        SelectedPaymentOption="Contract", SelectedServiceList=din.SelectedServiceListType(
            SelectedService=[din.SelectedServiceType(ServiceID=1)])))
    assert res.ResponseCode == "FAILED_PaymentSelectionInvalid"
    s.ended()


def din_to_cpd(s: Script) -> None:
    din_setup(s)
    s.din(din.ServiceDiscoveryReqType())
    s.din(din.ServicePaymentSelectionReqType(
        SelectedPaymentOption="ExternalPayment", SelectedServiceList=din.SelectedServiceListType(
            SelectedService=[din.SelectedServiceType(ServiceID=1)])))
    assert s.din(din.ContractAuthenticationReqType()).ResponseCode == "OK"


def din_cpd(s: Script, transfer: str = "DC_extended", vmax: int = 450) -> Any:
    pv = din.PhysicalValueType
    return s.din(din.ChargeParameterDiscoveryReqType(
        EVRequestedEnergyTransferType=transfer, EVChargeParameter=din.DC_EVChargeParameterType(
            DC_EVStatus=din_status(), EVMaximumCurrentLimit=pv(Multiplier=0, Unit="A", Value=100),
            EVMaximumVoltageLimit=pv(Multiplier=0, Unit="V", Value=vmax))))


def test_din_wrong_energy_transfer_type() -> None:
    s = Script("DIN")
    din_to_cpd(s)
    assert din_cpd(s, "AC_three_phase_core").ResponseCode == "FAILED_WrongEnergyTransferType"
    s.ended()


def test_din_wrong_charge_parameter() -> None:
    s = Script("DIN")
    din_to_cpd(s)
    assert din_cpd(s, vmax=100).ResponseCode == "FAILED_WrongChargeParameter"
    s.ended()


def test_din_ev_error_code_ends_the_session() -> None:
    s = Script("DIN")
    din_to_cpd(s)
    assert din_cpd(s).ResponseCode == "OK"
    res = s.din(din.CableCheckReqType(DC_EVStatus=din_status("FAILED_EVRESSMalfunction")))
    assert res.ResponseCode == "FAILED"
    assert "FAILED_EVRESSMalfunction" in s.ended().reason


def test_din_cable_check_reports_isolation_monitoring() -> None:
    s = Script("DIN")
    s.station.set_status("evse_not_ready")
    din_to_cpd(s)
    din_cpd(s)
    s.station.set_cp("C2")
    res = s.din(din.CableCheckReqType(DC_EVStatus=din_status()))
    assert res.EVSEProcessing == "Ongoing"
    assert res.DC_EVSEStatus.EVSEStatusCode == "EVSE_IsolationMonitoringActive"


# -- ISO 15118-2 ---------------------------------------------------------------------------------

def iso2_req(s: Script, body: Any, sid: bytes | None = None) -> Any:
    msg = iso2.V2G_Message(Header=iso2.MessageHeaderType(
        SessionID=s.sid if sid is None else sid), Body=iso2.BodyType(BodyElement=body))
    res = s.send(SAP, encode(msg))
    assert res is not None
    return decode(res.data, "iso2").Body.BodyElement


def iso2_setup(s: Script) -> None:
    res = iso2_req(s, iso2.SessionSetupReqType(EVCCID=b"\x02\x00\x00\x00\x00\x01"))
    assert res.ResponseCode == "OK_NewSessionEstablished"
    s.sid = b"\x11" * 8


def iso2_to_cpd(s: Script) -> None:
    iso2_setup(s)
    assert iso2_req(s, iso2.ServiceDiscoveryReqType()).ResponseCode == "OK"
    assert iso2_req(s, iso2.PaymentServiceSelectionReqType(
        SelectedPaymentOption="ExternalPayment", SelectedServiceList=iso2.SelectedServiceListType(
            SelectedService=[iso2.SelectedServiceType(ServiceID=1)]))).ResponseCode == "OK"
    assert iso2_req(s, iso2.AuthorizationReqType()).ResponseCode == "OK"


def iso2_ac_cpd(s: Script, mode: str = "AC_three_phase_core") -> Any:
    pv = iso2.PhysicalValueType
    return iso2_req(s, iso2.ChargeParameterDiscoveryReqType(
        RequestedEnergyTransferMode=mode, EVChargeParameter=iso2.AC_EVChargeParameterType(
            EAmount=pv(Multiplier=3, Unit="Wh", Value=10), EVMaxVoltage=pv(
                Multiplier=0, Unit="V", Value=400), EVMaxCurrent=pv(
                Multiplier=0, Unit="A", Value=32), EVMinCurrent=pv(
                Multiplier=0, Unit="A", Value=6))))


def test_iso2_sequence_error_and_unknown_session() -> None:
    s = Script("ISO2")
    iso2_setup(s)
    assert iso2_req(s, iso2.AuthorizationReqType()).ResponseCode == "FAILED_SequenceError"
    s.ended()
    s = Script("ISO2")
    iso2_setup(s)
    res = iso2_req(s, iso2.ServiceDiscoveryReqType(), sid=b"\x44" * 8)
    assert res.ResponseCode == "FAILED_UnknownSession"
    s.ended()


def test_iso2_ac_mode_on_a_dc_station() -> None:
    s = Script("ISO2")
    iso2_to_cpd(s)
    res = iso2_ac_cpd(s)
    assert res.ResponseCode == "FAILED_WrongEnergyTransferMode"
    assert "not offered" in s.ended().reason


def test_iso2_tariff_selection_invalid() -> None:
    s = Script("ISO2")
    s.station.state.evse(1).limits = default_limits(1, ac=True)
    iso2_to_cpd(s)
    res = iso2_ac_cpd(s)
    assert res.ResponseCode == "OK"
    assert res.SASchedules.SAScheduleTuple[0].SAScheduleTupleID == 1
    res = iso2_req(s, iso2.PowerDeliveryReqType(ChargeProgress="Start", SAScheduleTupleID=7))
    assert res.ResponseCode == "FAILED_TariffSelectionInvalid"
    s.ended()


def test_iso2_metering_receipt_for_another_session() -> None:
    s = Script("ISO2")
    s.station.state.evse(1).limits = default_limits(1, ac=True)
    iso2_to_cpd(s)
    iso2_ac_cpd(s)
    assert iso2_req(s, iso2.PowerDeliveryReqType(ChargeProgress="Start",
                                                 SAScheduleTupleID=1)).ResponseCode == "OK"
    res = iso2_req(s, iso2.ChargingStatusReqType())
    assert res.ResponseCode == "OK" and res.MeterInfo is not None
    assert res.AC_EVSEStatus.EVSENotification == "None"
    ok = iso2_req(s, iso2.MeteringReceiptReqType(SessionID=s.sid, MeterInfo=res.MeterInfo))
    assert ok.ResponseCode == "OK"
    bad = iso2_req(s, iso2.MeteringReceiptReqType(SessionID=b"\x55" * 8,
                                                  MeterInfo=res.MeterInfo))
    assert bad.ResponseCode == "FAILED_UnknownSession"
    s.ended()


# -- ISO 15118-20 AC ------------------------------------------------------------------------------

def test_iso20_ac_offers_ac_services_only() -> None:
    s = Script("ISO20_AC", ac=True)
    s.setup20()
    s.req20(cm.AuthorizationSetupReqType(Header=s.hdr20()))
    s.req20(cm.AuthorizationReqType(Header=s.hdr20(), SelectedAuthorizationService="EIM",
                                    EIM_AReqAuthorizationMode=cm.EIM_AReqAuthorizationModeType()))
    res = s.req20(cm.ServiceDiscoveryReqType(Header=s.hdr20()))
    assert [x.ServiceID for x in res.EnergyTransferServiceList.Service] == [1]
    res = s.req20(cm.ServiceDetailReqType(Header=s.hdr20(), ServiceID=2))
    assert res.ResponseCode == "FAILED_ServiceIDInvalid"
    s.ended()


def test_iso20_ac_dc_message_is_a_sequence_error() -> None:
    from josev.exi.generated import iso20_AC as acm

    s = Script("ISO20_AC", ac=True)
    s.setup20()
    s.req20(cm.AuthorizationSetupReqType(Header=s.hdr20()))
    s.req20(cm.AuthorizationReqType(Header=s.hdr20(), SelectedAuthorizationService="EIM",
                                    EIM_AReqAuthorizationMode=cm.EIM_AReqAuthorizationModeType()))
    s.req20(cm.ServiceDiscoveryReqType(Header=s.hdr20()))
    assert s.req20(cm.ServiceSelectionReqType(
        Header=s.hdr20(), SelectedEnergyTransferService=cm.SelectedServiceType(
            ServiceID=1, ParameterSetID=1))).ResponseCode == "OK"
    # The BPT variant of the parameters for a plain AC selection: wrong parameters.
    res = s.req20(acm.AC_ChargeParameterDiscoveryReqType(
        Header=s.hdr20(acm), AC_CPDReqEnergyTransferMode=acm.BPT_AC_CPDReqEnergyTransferModeType(
            EVMaximumChargePower=r20(11000, acm), EVMinimumChargePower=r20(0, acm),
            EVMaximumDischargePower=r20(11000, acm), EVMinimumDischargePower=r20(0, acm))))
    assert res.ResponseCode == "FAILED_WrongChargeParameter"
    s.ended()
    s = Script("ISO20_AC", ac=True)
    s.setup20()
    res = s.req20(dc.DC_CableCheckReqType(Header=s.hdr20(dc)))
    assert res.ResponseCode == "FAILED_SequenceError"
    s.ended()
