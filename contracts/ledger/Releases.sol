// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IFederationLedger} from "../IFederationLedger.sol";
import {Rounds} from "./Rounds.sol";

/// @title Releases
/// @notice The model each task releases: the aggregated model of one of its finalized rounds
///         (the federation picks the round with the best validation metric), marked once.
/// @dev One slot per task; the ledger checks that the hash is the round's recorded model hash.
abstract contract Releases is Rounds {
    struct Release {
        uint64 roundId;
        bytes32 modelHash;
    }

    mapping(uint256 taskId => Release) private _releases;

    /// @inheritdoc IFederationLedger
    function releaseModel(uint256 taskId, uint256 roundId, bytes32 modelHash) external onlyRole(EVALUATOR_ROLE) {
        Release storage release = _releases[taskId];
        if (release.roundId != 0) revert ModelAlreadyReleased(taskId, release.roundId);
        (uint256 roundTaskId, bytes32 recorded) = _finalizedRound(roundId);
        if (roundTaskId != taskId) revert RoundNotInTask(roundId, taskId, roundTaskId);
        if (modelHash != recorded) revert ReleasedHashMismatch(roundId, recorded, modelHash);
        release.roundId = uint64(roundId);
        release.modelHash = modelHash;
        emit ModelReleased(taskId, roundId, modelHash, msg.sender);
    }

    /// @inheritdoc IFederationLedger
    function releasedModelOf(uint256 taskId) external view returns (uint256 roundId, bytes32 modelHash) {
        Release storage release = _releases[taskId];
        return (release.roundId, release.modelHash);
    }
}
