"""The `[iso15118]` table of josev.toml, as a pydantic model.

This is the definition; josev-iso15118 itself validates with the class compiled from it
(josev.lean.generated.config.HlcConfig), so that the service does not load pydantic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class HlcConfig(BaseModel):
    """Every field has a simulator-ready default. Strict like every config table; paths and
    arrays accept TOML's strings and lists."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    pki: Annotated[Path, Field(strict=False)] | None = None  # `josev pki create`; None: TCP only
    allow_plain: bool = True           # also offer plain TCP (DIN and test EVs)
    iface: str | None = None           # overrides cs_parameters' network_interface
    netns: str | None = None           # the PLC interface lives in this named netns (simulation)
    # Offered where the EVSE can power them (an AC EVSE never negotiates DIN or -20 DC).
    protocols: Annotated[tuple[str, ...], Field(strict=False)] = (
        "ISO20_DC", "ISO20_AC", "ISO2", "DIN")
    prefer: Literal["ev", "secc"] = "ev"
    control_modes: Annotated[tuple[Literal["dynamic", "scheduled"], ...], Field(strict=False)] = (
        "dynamic", "scheduled")
    free_charging: bool = True
    api_timeout: Annotated[float, Field(ge=0.1, le=60)] = 5.0
    slac: bool = True                  # run SLAC (ISO 15118-3) on the PLC interface
