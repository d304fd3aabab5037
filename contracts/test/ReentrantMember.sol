// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {FederationLedger} from "../FederationLedger.sol";

/// @title ReentrantMember
/// @notice Test-only attacker: a member contract whose receive() re-enters `withdrawStake()` while
///         the ledger is sending it its stake. Used to show the ledger rejects re-entrancy.
contract ReentrantMember {
    /// @notice The ledger under attack.
    FederationLedger public immutable ledger;
    /// @notice When true, receive() propagates the re-entry failure (the outer leave reverts).
    bool public propagate;
    /// @notice Number of times receive() tried to re-enter.
    uint256 public reentryAttempts;
    /// @notice Selector of the error the re-entrant call reverted with (zero if it did not revert).
    bytes4 public reentryError;

    /// @param ledger_ The ledger to attack.
    constructor(FederationLedger ledger_) {
        ledger = ledger_;
    }

    /// @notice Join the ledger with the ETH sent along.
    /// @param name Member name.
    /// @param nodeKeyHash Node public-key hash.
    function join(string calldata name, bytes32 nodeKeyHash) external payable {
        ledger.join{value: msg.value}(name, nodeKeyHash);
    }

    /// @notice Commit to an update in a round.
    /// @param roundId The round.
    /// @param updateHash The commitment.
    function commit(uint256 roundId, bytes32 updateHash) external {
        ledger.commit(roundId, updateHash);
    }

    /// @notice Ask to leave the ledger (the stake unbonds).
    function requestLeave() external {
        ledger.requestLeave();
    }

    /// @notice Withdraw the unbonded stake; receive() re-enters while the stake arrives.
    /// @param propagate_ Whether receive() lets the re-entry failure revert the whole withdrawal.
    function attack(bool propagate_) external {
        propagate = propagate_;
        ledger.withdrawStake();
    }

    /// @notice Re-enter `withdrawStake()` once while receiving the stake.
    receive() external payable {
        if (reentryAttempts != 0) return;
        reentryAttempts = 1;
        try ledger.withdrawStake() {
            reentryError = bytes4(0);
        } catch (bytes memory reason) {
            reentryError = bytes4(reason);
            if (propagate) {
                assembly {
                    revert(add(reason, 32), mload(reason))
                }
            }
        }
    }
}
