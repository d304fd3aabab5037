// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// forge finds invariants by the `invariant_` prefix.
// solhint-disable func-name-mixedcase

import {FederationLedger} from "../FederationLedger.sol";
import {IFederationLedger} from "../IFederationLedger.sol";
import {RewardToken} from "../RewardToken.sol";
import {LedgerHandler} from "./LedgerHandler.sol";

/// @title LedgerInvariants
/// @notice Properties of the ledger that hold after every call of any random sequence the
///         fuzzer drives through `LedgerHandler` (forge invariant testing).
contract LedgerInvariants {
    /// @notice A property failed: `what`, with the two sides that should have been equal (or
    ///         ordered as `what` says).
    error Violated(string what, int256 left, int256 right);

    LedgerHandler internal handler;
    FederationLedger internal ledger;
    RewardToken internal token;

    /// @notice Deploy the handler, which deploys the token and the ledger.
    function setUp() public {
        handler = new LedgerHandler(_merkleScores());
        ledger = handler.ledger();
        token = handler.token();
    }

    /// @notice forge fuzzes the handler only (not the ledger directly).
    /// @return targets The handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Every property below, after every call of every run (one campaign: forge runs
    ///         each invariant function as a campaign of its own, so one function keeps a CI run's
    ///         calls all useful).
    function invariant_ledgerAccountingHolds() public view {
        _checkEthHeldEqualsStakesAndSlashedBalance();
        _checkTokensMintedEqualRewardsClaimed();
        _checkRoundRewardsPlusDustEqualBudget();
        _checkCumulativeScoresAreSumsOfRoundScores();
        _checkStakeNeverAboveWhatWasPaid();
        _checkNonRoleCallsChangeNothing();
    }

    /// @notice ETH held == stakes held + slashed balance == paid in - returned - withdrawn, and
    ///         the ledger's own totals agree with what the handler paid and took.
    function _checkEthHeldEqualsStakesAndSlashedBalance() private view {
        address[] memory accounts = handler.actors();
        uint256 stakes;
        for (uint256 i; i < accounts.length; ++i) {
            stakes += ledger.getMember(accounts[i]).stake;
        }
        uint256 held = address(ledger).balance;
        _eq("balance == stakes + slashedBalance", held, stakes + ledger.slashedBalance());
        _eq(
            "balance == paidIn - returned - withdrawn",
            held,
            handler.ghostPaidIn() - handler.ghostReturned() - handler.ghostWithdrawn()
        );
        _eq("totalStaked == paidIn", ledger.totalStaked(), handler.ghostPaidIn());
        _eq("totalReturned == returned", ledger.totalReturned(), handler.ghostReturned());
        _eq("totalSlashed == slashed", ledger.totalSlashed(), handler.ghostSlashed());
        _eq(
            "slashedBalance == slashed - withdrawn",
            ledger.slashedBalance(),
            handler.ghostSlashed() - handler.ghostWithdrawn()
        );
    }

    /// @notice Tokens minted == rewards claimed; rewards credited == claimed + pending.
    function _checkTokensMintedEqualRewardsClaimed() private view {
        address[] memory accounts = handler.actors();
        uint256 claimed;
        uint256 pending;
        for (uint256 i; i < accounts.length; ++i) {
            IFederationLedger.MemberInfo memory m = ledger.getMember(accounts[i]);
            claimed += m.claimedReward;
            pending += m.pendingReward;
            _eq("token balance == claimedReward", token.balanceOf(accounts[i]), m.claimedReward);
        }
        _eq("totalSupply == claimed (handler)", token.totalSupply(), handler.ghostClaimed());
        _eq("totalSupply == sum claimedReward", token.totalSupply(), claimed);
        _eq("credited == claimed + pending", handler.ghostCredited(), claimed + pending);
    }

    /// @notice Whether the ledger under test settles scores against a Merkle root (eager here).
    /// @return merkle False: finalize settles every participant.
    function _merkleScores() internal pure virtual returns (bool merkle) {
        return false;
    }

    /// @notice Per finalized round: rewards credited + dust <= budget, == once every participant
    ///         is settled (at finalize when eager); nothing paid otherwise.
    function _checkRoundRewardsPlusDustEqualBudget() private view {
        uint256 rounds = ledger.roundCount();
        uint256 credited;
        for (uint256 r = 1; r <= rounds; ++r) {
            IFederationLedger.RoundInfo memory info = ledger.getRound(r);
            IFederationLedger.ParticipantInfo[] memory ps = ledger.getParticipants(r);
            uint256 paid;
            bool allSettled = true;
            for (uint256 i; i < ps.length; ++i) {
                paid += ps[i].reward;
                allSettled = allSettled && ps[i].settled;
            }
            if (info.status == IFederationLedger.RoundStatus.Finalized) {
                if (paid + info.dust > info.budget) {
                    revert Violated("round rewards + dust <= budget", int256(paid + info.dust), int256(info.budget));
                }
                if (allSettled) _eq("settled round rewards + dust == budget", paid + info.dust, info.budget);
                if (!_merkleScores() && !allSettled) revert Violated("eager finalize settles everyone", 0, 1);
                _eq("round rewarded + dust == budget", info.rewarded + info.dust, info.budget);
                credited += paid;
            } else {
                _eq("unfinalized round pays nothing", paid + info.rewarded + info.dust, 0);
            }
        }
        _eq("sum of round rewards == credited", credited, handler.ghostCredited());
    }

    /// @notice Each member's cumulative score == the sum of its settled scores in finalized
    ///         rounds, and == its finalized scores less those not settled yet; its open
    ///         commitments == the open rounds, and the finalized rounds not settled yet, it
    ///         committed to (one pass over rounds).
    function _checkCumulativeScoresAreSumsOfRoundScores() private view {
        address[] memory accounts = handler.actors();
        int256[] memory sums = new int256[](accounts.length);
        uint256[] memory open = new uint256[](accounts.length);
        uint256 rounds = ledger.roundCount();
        for (uint256 r = 1; r <= rounds; ++r) {
            IFederationLedger.RoundStatus status = ledger.getRound(r).status;
            IFederationLedger.ParticipantInfo[] memory ps = ledger.getParticipants(r);
            for (uint256 k; k < ps.length; ++k) {
                uint256 i = _indexOf(accounts, ps[k].account);
                if (status == IFederationLedger.RoundStatus.Finalized) sums[i] += ps[k].score;
                if (status == IFederationLedger.RoundStatus.Open) ++open[i];
                if (status == IFederationLedger.RoundStatus.Finalized && !ps[k].settled) ++open[i];
            }
        }
        for (uint256 i; i < accounts.length; ++i) {
            IFederationLedger.MemberInfo memory m = ledger.getMember(accounts[i]);
            _eqInt("cumulativeScore == sum of round scores", m.cumulativeScore, sums[i]);
            _eqInt("cumulativeScore == handler's sum", m.cumulativeScore, handler.ghostScore(accounts[i]));
            _eqInt(
                "finalized scores == cumulativeScore + unsettled",
                handler.ghostFinalizedScore(accounts[i]),
                m.cumulativeScore + handler.ghostUnsettledScore(accounts[i])
            );
            _eq("openCommitments == open rounds committed", m.openCommitments, open[i]);
        }
    }

    /// @notice No member's stake is negative or above what it paid: stake == paid - returned -
    ///         slashed, per account.
    function _checkStakeNeverAboveWhatWasPaid() private view {
        address[] memory accounts = handler.actors();
        for (uint256 i; i < accounts.length; ++i) {
            address a = accounts[i];
            int256 expected = handler.ghostStake(a);
            uint256 stake = ledger.getMember(a).stake;
            if (expected < 0) revert Violated("stake paid - returned - slashed >= 0", expected, 0);
            _eqInt("stake == paid - returned - slashed", int256(stake), expected);
            if (stake > handler.ghostPaidBy(a)) {
                revert Violated("stake <= paid", int256(stake), int256(handler.ghostPaidBy(a)));
            }
        }
    }

    /// @notice No call by an account without the required role succeeded or changed state, and
    ///         no commit or withdrawal the incentive rules forbid succeeded.
    function _checkNonRoleCallsChangeNothing() private view {
        _eq("unauthorized calls that changed state", handler.unauthorizedChanges(), 0);
        _eq("commits or withdrawals the incentive rules forbid", handler.ruleBreaks(), 0);
        _eq("finalized rounds the cohort and exclusion rules forbid", handler.roundRuleBreaks(), 0);
        _eq("settlements with a score, dropout or proof finalize did not commit", handler.forgedSettlements(), 0);
    }

    function _indexOf(address[] memory accounts, address account) private pure returns (uint256 i) {
        while (accounts[i] != account) ++i;
    }

    function _eq(string memory what, uint256 left, uint256 right) private pure {
        if (left != right) revert Violated(what, int256(left), int256(right));
    }

    function _eqInt(string memory what, int256 left, int256 right) private pure {
        if (left != right) revert Violated(what, left, right);
    }
}
