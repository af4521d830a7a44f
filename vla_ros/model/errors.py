"""Exceptions of the model runtime, split by who has to act on them.

ModelPackageError: the package on disk is wrong (fix the files); raised at load time.
BackendUnavailable: the requested backend cannot run on this machine (install something / pick another).
InputError: this observation cannot be fed to the model (the node holds with the message as reason).
InvalidModelOutput: the model produced something the manifest does not allow (a model fault).
PolicyUnavailable: the policy cannot answer right now (a remote policy server unreachable or too slow); transient:
    the node holds through its inference timeout and tries again, it does not latch a fault.
"""

from __future__ import annotations


class ModelPackageError(Exception):
    """The model package is invalid; the message names the field or file and what was expected."""


class BackendUnavailable(ModelPackageError):  # noqa: N818 - name fixed by the public API
    """A backend cannot be used here (library missing, no GPU, no weights for it)."""


class InputError(ValueError):
    """An observation is unusable for this model; the message is a human-readable reason."""


class InvalidModelOutput(RuntimeError):  # noqa: N818 - reads as a condition, like BackendUnavailable
    """The backend returned an output that contradicts the manifest (shape, token id range, non-finite)."""


class PolicyUnavailable(RuntimeError):  # noqa: N818 - reads as a condition, like BackendUnavailable
    """The policy cannot be reached now (a remote server down, refusing, or not answering in time).

    Transient by nature: the caller holds without latching a fault and retries; the policy reconnects by itself.
    """
