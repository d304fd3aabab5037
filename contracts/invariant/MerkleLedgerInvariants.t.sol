// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {LedgerInvariants} from "./LedgerInvariants.t.sol";

/// @title MerkleLedgerInvariants
/// @dev Half the eager suite's runs: together the two stay within 1.5 times the old CI time.
/// forge-config: default.invariant.runs = 50
/// @notice The same properties on a ledger deployed with Merkle score settlement: finalize
///         commits a root, and the fuzzer settles participants (with honest and tampered proofs)
///         in any order among the other calls.
contract MerkleLedgerInvariants is LedgerInvariants {
    /// @notice The ledger under test settles scores against a per-round Merkle root.
    /// @return merkle True.
    function _merkleScores() internal pure override returns (bool merkle) {
        return true;
    }
}
