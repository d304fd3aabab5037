// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Membership} from "./ledger/Membership.sol";
import {Rounds} from "./ledger/Rounds.sol";
import {Decryptions} from "./ledger/Decryptions.sol";
import {Releases} from "./ledger/Releases.sol";
import {ProportionalRewardPolicy} from "./rewards/ProportionalRewardPolicy.sol";
import {RewardToken} from "./RewardToken.sol";

/// @title FederationLedger
/// @notice The permanent incentive ledger of a federated-learning consortium. It records who
///         takes part in each round, a commitment (keccak256) to each encrypted update, each
///         participant's contribution score, the aggregated model's performance, and the rewards
///         that follow. Rewards are split by the proportional reward policy and claimed as
///         RewardToken.
/// @dev Composed of `Membership` (stakes, joining, leaving, slashing), `Rounds` (tasks, rounds,
///      finalize, claims), `Decryptions` (which coalition sums of a round may be decrypted),
///      `Releases` (each task's released model) and a `RewardPolicy` module (here `ProportionalRewardPolicy`, mirrored to
///      the unit by `incentive/rewards.py`) behind `IFederationLedger`. Another payout rule is
///      another module composed in the same way.
contract FederationLedger is Membership, Rounds, Decryptions, Releases, ProportionalRewardPolicy {
    /// @notice Block in which this ledger was deployed (where an event scan starts).
    uint256 public immutable deploymentBlock;

    /// @param admin Account that receives DEFAULT_ADMIN_ROLE.
    /// @param token Reward token; grant this ledger its MINTER_ROLE before anyone claims.
    /// @param minStake_ Least stake (wei) with which an account joins without approval.
    /// @param merkleScores_ Settle scores lazily against a per-round Merkle root (see `Rounds`).
    constructor(address admin, RewardToken token, uint256 minStake_, bool merkleScores_)
        Membership(admin, minStake_)
        Rounds(token, merkleScores_)
    {
        deploymentBlock = block.number;
    }
}
