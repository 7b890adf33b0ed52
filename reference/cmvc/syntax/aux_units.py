"""§4.8 metadata_unit(), padding_unit(), end_of_stream_unit()."""
from __future__ import annotations

import dataclasses

from construct_typed import DataclassMixin, csfield

from .descriptors import Rest, String, Syntax


@dataclasses.dataclass
class MetadataUnit(DataclassMixin):
    """§4.8.1 metadata_unit(): one informative key/value pair."""

    key: str = csfield(String(255), doc="Name, e.g. `encoder`, `source`, `encoder_settings`.")
    value: str = csfield(String(1 << 16), doc="Value.")


@dataclasses.dataclass
class PaddingUnit(DataclassMixin):
    """§4.8.2 padding_unit()."""

    padding_data: bytes = csfield(Rest(), doc="Bytes equal to 0x00.")


@dataclasses.dataclass
class EndOfStreamUnit(DataclassMixin):
    """§4.8.3 end_of_stream_unit(): empty."""


METADATA_UNIT = Syntax(MetadataUnit)
PADDING_UNIT = Syntax(PaddingUnit)
END_OF_STREAM_UNIT = Syntax(EndOfStreamUnit)
