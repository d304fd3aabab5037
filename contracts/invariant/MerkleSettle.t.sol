// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// forge finds tests by the `test_` prefix.
// solhint-disable func-name-mixedcase

import {FederationLedger} from "../FederationLedger.sol";
import {IFederationLedger} from "../IFederationLedger.sol";
import {LedgerHandler} from "./LedgerHandler.sol";

/// @title MerkleSettle
/// @notice The invariant handler's Merkle path does what the fuzzer relies on: its proofs
///         settle every participant of a finalized round, and its tampered ones are refused.
contract MerkleSettle {
    /// @notice A check failed: `what`, with the value seen and the value expected.
    error Failed(string what, int256 seen, int256 expected);

    /// @notice Four members commit to one round, which is finalized; forged settlements fail,
    ///         honest ones credit each score once and pay the whole budget less dust.
    function test_handlerProofsSettleARoundAndForgedOnesAreRefused() public {
        LedgerHandler handler = new LedgerHandler(true);
        FederationLedger ledger = handler.ledger();
        for (uint256 k; k < 4; ++k) {
            handler.join(1, 1); // the next candidate that is not a member, at the minimum stake
        }
        handler.openRound(1, 0, 0); // as the aggregator, task 0
        handler.commit(0, 1, 3); // candidates 0..3 commit to round 1
        handler.finalizeRound(1, 1, 7, 1); // as the evaluator, no dropouts
        _check("round finalized", uint256(ledger.getRound(1).status), uint256(IFederationLedger.RoundStatus.Finalized));
        for (uint256 i; i < 4; ++i) {
            handler.settle(0, 1, i, 1); // score + 1
            handler.settle(0, 1, i, 2); // dropout flipped
            handler.settle(0, 1, i, 3); // a proof node flipped
        }
        _check("forged settlements refused", handler.successes("settle"), 0);
        for (uint256 i; i < 4; ++i) {
            handler.settle(0, 1, i, 0);
            handler.settle(0, 1, i, 0); // already settled: refused
        }
        _check("honest settlements", handler.successes("settle"), 4);
        _check("forged settlements that succeeded", handler.forgedSettlements(), 0);
        IFederationLedger.RoundInfo memory info = ledger.getRound(1);
        IFederationLedger.ParticipantInfo[] memory ps = ledger.getParticipants(1);
        uint256 paid;
        for (uint256 i; i < ps.length; ++i) {
            paid += ps[i].reward;
            _check("settled", ps[i].settled ? 1 : 0, 1);
            IFederationLedger.MemberInfo memory m = ledger.getMember(ps[i].account);
            if (m.cumulativeScore != ps[i].score || m.cumulativeScore != handler.ghostFinalizedScore(ps[i].account)) {
                revert Failed("cumulativeScore == the round's score", m.cumulativeScore, ps[i].score);
            }
            _check("no open commitment left", m.openCommitments, 0);
        }
        _check("rewards + dust == budget", paid + info.dust, info.budget);
    }

    function _check(string memory what, uint256 seen, uint256 expected) private pure {
        if (seen != expected) revert Failed(what, int256(seen), int256(expected));
    }
}
