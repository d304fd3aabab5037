"""Exceptions of the fl_node package; the CLI turns each into one line and exit code 2."""


class FlNodeError(Exception):
    """Base class: bad input to training, encryption or a federation."""


class ArtifactError(FlNodeError):
    """An artifact is missing from the store or does not match its content hash."""
