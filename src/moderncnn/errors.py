"""Errors raised for bad input. The CLI prints their message as one line and exits 2."""


class ModernCNNError(ValueError):
    """Base class: a user-facing problem with what was asked for (not a bug)."""


class UnknownModelError(ModernCNNError, KeyError):
    """A model name that is not registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class InputShapeError(ModernCNNError):
    """An input tensor a network cannot take (channels, rank or spatial size)."""


class FeatureIndexError(ModernCNNError):
    """Feature stages (``out_indices``, ``indices``) that a network does not have."""


class CheckpointError(ModernCNNError):
    """A weights file that is missing, unreadable or for another architecture."""


class DataError(ModernCNNError):
    """A data set that is missing, in an unknown layout, or has unreadable files (--strict)."""


class ConfigError(ModernCNNError):
    """A recipe or training option that is unknown or out of range."""


class OutputError(ModernCNNError):
    """A file or folder that cannot be written: a file in the way, a read-only or full disk."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(str(path), reason)
        self.path, self.reason = str(path), reason

    def __str__(self) -> str:
        return f"cannot write {self.path!r}: {self.reason}"


class DivergedError(ModernCNNError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""


class ExportError(ModernCNNError):
    """A model, format or output path that cannot be exported to (ONNX, torch.export)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) ended the work; the message says where, and how to go on. A
    KeyboardInterrupt still, so that callers stop as they would."""
