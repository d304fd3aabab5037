// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title RewardPolicy
/// @notice How a round's reward budget follows from its contribution scores. The ledger asks
///         its policy for the round's normalizer once per finalize, then for each participant's
///         reward; a policy holds no state, so an auditor recomputes every round's split from the
///         recorded scores, the budget and the normalizer alone.
/// @dev A policy is a module the ledger is composed with (as OpenZeppelin's Governor is composed
///      with its counting module), so calling it costs no external call: an injected policy
///      contract measured +655 gas per participant at finalize. `incentive/rewards.py` mirrors
///      each policy to the unit under the name `rewardPolicy()` returns. Inputs are bounded by
///      the ledger: budget < 2^128, |score| < 2^63, at most 512 participants.
abstract contract RewardPolicy {
    /// @notice Name of the policy (its contract name), by which an auditor picks the mirror.
    /// @return name The policy's name.
    function rewardPolicy() external pure virtual returns (string memory name);

    /// @dev Folds one participant into the round's normalizer: the ledger starts from zero and
    ///      calls this once per participant in commit order; the result, stored with the round,
    ///      gives every reward with the budget.
    /// @param normalizer The normalizer so far.
    /// @param score The participant's score.
    /// @param isDropped Whether it dropped out.
    function _accumulate(uint256 normalizer, int256 score, bool isDropped) internal pure virtual returns (uint256);

    /// @dev One participant's reward; the rewards of a round never add up to more than the budget.
    /// @param budget The round's budget.
    /// @param score The participant's score.
    /// @param isDropped Whether it dropped out.
    /// @param normalizer What `_normalizer` returned for the round.
    function _rewardOf(uint256 budget, int256 score, bool isDropped, uint256 normalizer)
        internal
        pure
        virtual
        returns (uint256 reward);

    /// @dev Bit i of word i / 256 of the dropout bitmap; missing words are zero.
    function _isDropped(uint256[] calldata dropped, uint256 i) internal pure returns (bool) {
        uint256 word = i >> 8;
        return word < dropped.length && (dropped[word] >> (i & 255)) & 1 == 1;
    }
}
