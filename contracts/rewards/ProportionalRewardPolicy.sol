// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RewardPolicy} from "./RewardPolicy.sol";

/// @title ProportionalRewardPolicy
/// @notice A round's budget split in proportion to the positive scores of the participants that
///         did not drop out; zero or negative scores and dropouts earn nothing. Each share is
///         rounded down; what rounding leaves over is the round's dust (recorded, never minted):
///         `reward_i = budget * score_i / positiveSum`, `dust = budget - sum(reward_i)`.
/// @dev Mirrored to the unit by `incentive.rewards.ProportionalPolicy`; the normalizer is the
///      positive-score sum. Shares rounded down never add up to more than the budget.
abstract contract ProportionalRewardPolicy is RewardPolicy {
    /// @inheritdoc RewardPolicy
    function rewardPolicy() external pure override returns (string memory name) {
        return "ProportionalRewardPolicy";
    }

    /// @inheritdoc RewardPolicy
    function _accumulate(uint256 normalizer, int256 score, bool isDropped) internal pure override returns (uint256) {
        return score > 0 && !isDropped ? normalizer + uint256(score) : normalizer;
    }

    /// @inheritdoc RewardPolicy
    function _rewardOf(uint256 budget, int256 score, bool isDropped, uint256 normalizer)
        internal
        pure
        override
        returns (uint256 reward)
    {
        if (isDropped || score <= 0) return 0;
        return (budget * uint256(score)) / normalizer;
    }
}
