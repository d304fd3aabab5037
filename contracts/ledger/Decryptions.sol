// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IFederationLedger} from "../IFederationLedger.sol";
import {Rounds} from "./Rounds.sol";

/// @title Decryptions
/// @notice The record of which encrypted coalition sums of a round may be decrypted. The
///         evaluator records each sum (its hash and the coalition's bitmap) before asking the
///         key custodians; custodians answer only sums on this record for an open round, and
///         an auditor checks the record against the coalitions the published scorer evaluates.
/// @dev One storage slot per recorded sum (the coalition, keyed by round and sum hash) plus a
///      per-round counter; the list itself is the round's `DecryptionRecorded` events.
abstract contract Decryptions is Rounds {
    /// @notice Most sums one `recordDecryptions` call records (bounds the transaction).
    uint256 public constant MAX_DECRYPTIONS_PER_CALL = 256;

    mapping(uint256 roundId => mapping(bytes32 sumHash => uint256 coalition)) private _coalitionOf;
    mapping(uint256 roundId => uint256 count) private _decryptionCount;

    /// @inheritdoc IFederationLedger
    function recordDecryptions(uint256 roundId, bytes32[] calldata sumHashes, uint256[] calldata coalitions)
        external
        onlyRole(EVALUATOR_ROLE)
    {
        uint256 count = sumHashes.length;
        if (count == 0 || count != coalitions.length || count > MAX_DECRYPTIONS_PER_CALL) {
            revert InvalidDecryptionBatch(count, coalitions.length, MAX_DECRYPTIONS_PER_CALL);
        }
        uint256 participants = _openRoundSize(roundId);
        uint256 limit = participants >= 256 ? type(uint256).max : (uint256(1) << participants) - 1;
        mapping(bytes32 => uint256) storage coalitionOf = _coalitionOf[roundId];
        for (uint256 i; i < count; ++i) {
            bytes32 sumHash = sumHashes[i];
            uint256 coalition = coalitions[i];
            if (sumHash == bytes32(0)) revert EmptyHash();
            if (coalition == 0 || coalition > limit) revert InvalidCoalition(roundId, coalition, participants);
            if (coalitionOf[sumHash] != 0) revert DecryptionAlreadyRecorded(roundId, sumHash);
            coalitionOf[sumHash] = coalition;
            emit DecryptionRecorded(roundId, sumHash, coalition);
        }
        _decryptionCount[roundId] += count;
    }

    /// @inheritdoc IFederationLedger
    function decryptionOf(uint256 roundId, bytes32 sumHash) external view returns (uint256 coalition) {
        return _coalitionOf[roundId][sumHash];
    }

    /// @inheritdoc IFederationLedger
    function decryptionCount(uint256 roundId) external view returns (uint256 count) {
        return _decryptionCount[roundId];
    }
}
