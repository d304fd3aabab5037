"""Exceptions of the fl_node package; the CLI turns each into one line and exit code 2."""


class FlNodeError(Exception):
    """Base class: bad input to training, encryption or a federation."""


class ArtifactError(FlNodeError):
    """An artifact is missing from the store or does not match its content hash."""


class DataError(FlNodeError):
    """A dataset, CSV file, split or partition spec cannot be used (unknown name, bad values, too few samples)."""


class ModelError(FlNodeError):
    """An unknown model name, a model that does not fit the data, or a parameter vector of the wrong size."""


class UpdateFormatError(FlNodeError):
    """An update blob is malformed: a plaintext one of the wrong length or non-finite, a signed blob cut short."""


class RoundAborted(FlNodeError):
    """Fewer than ``min_participants`` usable submissions arrived in a round, even after the retries."""


class BlobRefused(FlNodeError):
    """A blob not bound to the round and sender it came with: another header, or not signed by its sender."""


class CryptoError(FlNodeError):
    """A Paillier key, codec configuration or ciphertext cannot be used."""


class KeyFormatError(CryptoError):
    """Bytes or a file that should hold a Paillier key do not (bad framing, checksum or key values)."""


class CiphertextFormatError(CryptoError):
    """An encrypted-update blob is truncated, altered, out of range or made under another key."""


class CodecError(CryptoError):
    """Values or encrypted updates that the packed codec cannot take (wrong range, mismatched parameters, overflow risk)."""


class ThresholdDecryptionError(CryptoError):
    """A threshold decryption cannot finish: fewer than ``t`` valid partial decryptions; names the custodians missing or rejected."""

    def __init__(self, message: str, missing: tuple[int, ...] = (), rejected: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing
        self.rejected = rejected


class CustodianUnavailable(CryptoError):
    """A key custodian did not answer a partial-decryption request (offline, timed out or refused)."""


class DecryptionRefused(CryptoError):
    """A key custodian refused a decryption request that is not on the ledger's record for an open round, or not the sum of the committed blobs it names."""


class VFLError(FlNodeError):
    """Vertical federated learning: bad party data, a failed alignment or a broken protocol exchange."""


class MissingColumnError(VFLError):
    """A party's table lacks a required column (the sample-ID column, or the guest's label column)."""


class DuplicateIDError(VFLError):
    """A party's sample IDs are not unique, so rows cannot be aligned by ID."""


class FeatureCountError(VFLError):
    """A party's feature matrix, table row or model has a different number of features than expected."""


class EmptyIntersectionError(VFLError):
    """The parties share no sample IDs (or too few to train and evaluate on)."""


class VFLProtocolError(VFLError):
    """A message between the parties is malformed or does not match the protocol step."""


class VFLTransportError(VFLError):
    """A party could not reach a peer, a message did not arrive in time, or a peer failed."""


class BatchSizeError(VFLError):
    """A hetero-LR batch so small that a party could solve its own gradient for the other party's labels or predictors."""


class KeyMismatch(FlNodeError):
    """A private key that does not belong to the federation's public key."""


class FTLError(FlNodeError):
    """Federated transfer learning: bad party data, settings the protocol cannot run with, or a broken exchange."""


class FTLOverlapError(FTLError):
    """The source and target parties share no sample IDs (or too few), or disagree on which they share."""


class FTLConfigError(FTLError):
    """FTL settings out of range (overlap fraction, representation size, precision, key size, iterations)."""


class FTLProtocolError(FTLError):
    """An FTL message is malformed, out of range, or does not match the protocol step or the agreed settings."""


class FTLNumericError(FTLError):
    """A representation or gradient became non-finite or too large for the fixed-point encoding."""


class ConsortiumError(FlNodeError):
    """Consortium mode (Flower transport, node operators over the network) failed."""


class TransportProcessError(ConsortiumError):
    """A process of the consortium (SuperLink, SuperNode, flwr, node) failed to start, exited or did not answer."""


class FlowerRunFailed(ConsortiumError):
    """A Flower run ended in a state other than completed, or could not be submitted."""


class FlowerMessageError(ConsortiumError):
    """A Flower message lacks a record or field, or holds a value of the wrong type or size."""


class MembershipRefused(ConsortiumError):
    """An account may not take part: not a member, not admitted, left, or its stake slashed below the minimum."""


class KeystoreError(ConsortiumError):
    """An Ethereum keystore file is missing, malformed, or the passphrase does not open it."""


class PlanRejected(ConsortiumError):
    """A node refused a round plan that does not match the ledger (task spec or global-model hash)."""


class CertificateError(ConsortiumError):
    """A consortium certificate, its key or an authentication key is missing, malformed or does not fit."""


class NetnsError(ConsortiumError):
    """Linux network namespaces cannot be created here (not root, no ``ip``) or a namespace command failed."""


class TaskFileError(FlNodeError):
    """A task file cannot be read, is not TOML, or holds an unknown key, a wrongly typed value or an invalid setting."""
