// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// Rejections are part of the fuzzed sequences: the handler's `catch {}` blocks are meant empty.
// solhint-disable no-empty-blocks
// One ghost counter per property the invariants check: the handler's state grows with them.
// solhint-disable max-states-count

import {FederationLedger} from "../FederationLedger.sol";
import {IFederationLedger} from "../IFederationLedger.sol";
import {RewardToken} from "../RewardToken.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {VM} from "./Vm.sol";

/// @title LedgerHandler
/// @notice What forge's invariant fuzzer calls: every state-changing entry point of the ledger,
///         from candidate members, outsiders and each role, with bounded inputs. It keeps ghost
///         totals of what was paid in and out, and counts calls by accounts without the role
///         that succeeded or changed any state. With Merkle scores it keeps each finalized
///         round's scores and dropouts, and settles participants with proofs it builds from
///         them (and with tampered scores, dropouts or proofs, which must be refused).
/// @dev A rejected call is part of the sequence (the fuzzer explores rejections too); only
///      successful calls update the ghosts.
contract LedgerHandler {
    /// @notice Accounts that may become members.
    uint256 public constant CANDIDATES = 6;
    /// @notice Accounts that never join (they only try member calls).
    uint256 public constant OUTSIDERS = 2;
    /// @notice Rounds one run opens at most (bounds the cost of each invariant check).
    uint256 public constant MAX_ROUNDS = 16;
    /// @notice The ledger's minimum stake at deployment.
    uint256 public constant MIN_STAKE = 1 ether;
    /// @notice Largest stake one join sends.
    uint256 public constant MAX_DEPOSIT = 5 ether;

    /// @notice The ledger under test.
    FederationLedger public immutable ledger;
    /// @notice Its reward token.
    RewardToken public immutable token;
    /// @notice Whether the ledger settles scores lazily against a per-round Merkle root.
    bool public immutable merkleScores;
    /// @notice Holder of DEFAULT_ADMIN_ROLE.
    address public immutable admin = address(0xAD);
    /// @notice Holder of AGGREGATOR_ROLE.
    address public immutable aggregator = address(0xA66);
    /// @notice Holder of EVALUATOR_ROLE.
    address public immutable evaluator = address(0xE7A1);
    /// @notice Where withdrawn slashed stake goes.
    address public immutable sink = address(0x5111C);

    /// @notice Candidate members first, then outsiders, then admin, aggregator, evaluator.
    address[] internal _actors;
    uint256[] internal _tasks;

    /// @notice Wei staked by successful joins.
    uint256 public ghostPaidIn;
    /// @notice Wei returned by successful leaves.
    uint256 public ghostReturned;
    /// @notice Wei slashed.
    uint256 public ghostSlashed;
    /// @notice Slashed wei withdrawn by the admin.
    uint256 public ghostWithdrawn;
    /// @notice Reward tokens claimed.
    uint256 public ghostClaimed;
    /// @notice Reward tokens credited by finalized rounds.
    uint256 public ghostCredited;
    /// @notice Per account: stake paid in, minus returned, minus slashed.
    mapping(address account => int256) public ghostStake;
    /// @notice Per account: everything it ever paid in.
    mapping(address account => uint256) public ghostPaidBy;
    /// @notice Per account: sum of its credited scores (at finalize, or at settle with Merkle scores).
    mapping(address account => int256) public ghostScore;
    /// @notice Per account: sum of its scores in finalized rounds, credited or not.
    mapping(address account => int256) public ghostFinalizedScore;
    /// @notice Per account: sum of its finalized scores not settled yet (Merkle scores).
    mapping(address account => int256) public ghostUnsettledScore;
    /// @notice Calls by accounts without the required role that succeeded or changed state.
    uint256 public unauthorizedChanges;
    /// @notice Per account: the earliest withdrawStake its last requestLeave allows.
    mapping(address account => uint256) public ghostUnlockAt;
    /// @notice Successful calls that the ledger's incentive rules should have refused: a commit
    ///         by a non-active member or one below the minimum stake (unless exempt), a
    ///         withdrawStake before the unbonding period ended.
    uint256 public ruleBreaks;
    /// @notice Finalized rounds the cohort and exclusion rules forbid: fewer included
    ///         participants than the task's minimum cohort (or MIN_COHORT), or an excluded
    ///         participant that was not recorded as dropped or was rewarded.
    uint256 public roundRuleBreaks;
    /// @notice Settlements that succeeded with a score, dropout flag or proof other than the
    ///         round's (Merkle scores).
    uint256 public forgedSettlements;
    /// @notice Successful calls per entry point name, for the run's summary.
    mapping(string name => uint256) public successes;

    /// @dev Merkle scores: what finalize committed, per round (one dropout word: at most
    ///      CANDIDATES + OUTSIDERS + 3 participants).
    mapping(uint256 roundId => int256[]) internal _committedScores;
    mapping(uint256 roundId => uint256) internal _committedDropped;

    /// @param merkleScores_ Deploy the ledger with Merkle score settlement.
    constructor(bool merkleScores_) {
        merkleScores = merkleScores_;
        token = new RewardToken("Reward", "RWD", address(this));
        ledger = new FederationLedger(admin, token, MIN_STAKE, merkleScores_);
        token.grantRole(token.MINTER_ROLE(), address(ledger));
        // Arguments are read before the prank: it applies to the next call only.
        bytes32 aggregatorRole = ledger.AGGREGATOR_ROLE();
        bytes32 evaluatorRole = ledger.EVALUATOR_ROLE();
        VM.prank(admin);
        ledger.grantRole(aggregatorRole, aggregator);
        VM.prank(admin);
        ledger.grantRole(evaluatorRole, evaluator);
        VM.prank(admin);
        ledger.setUnbondingPeriod(2 hours);
        VM.prank(admin);
        _tasks.push(ledger.createTask(keccak256("model-a"), keccak256("val-a"), 1 ether, 3));
        VM.prank(admin);
        _tasks.push(ledger.createTask(keccak256("model-b"), keccak256("val-b"), 999_983, 4));
        for (uint256 i; i < CANDIDATES + OUTSIDERS; ++i) {
            _actors.push(address(uint160(0x10000 + i)));
        }
        _actors.push(admin);
        _actors.push(aggregator);
        _actors.push(evaluator);
    }

    /// @notice Every account the handler acts as.
    /// @return accounts Candidates, outsiders, admin, aggregator, evaluator.
    function actors() external view returns (address[] memory accounts) {
        return _actors;
    }

    // ------------------------------------------------------------ membership

    /// @notice Join with a stake (mostly at least the minimum).
    /// @param actorSeed Picks the account.
    /// @param amountSeed Picks the stake.
    function join(uint256 actorSeed, uint256 amountSeed) external {
        address a = _outsideMostly(actorSeed);
        // Three times in four at least the current minimum; otherwise anything up to MAX_DEPOSIT.
        uint256 minStake = ledger.minStake();
        uint256 amount = amountSeed % 4 == 0
            ? _bound(amountSeed >> 2, 0, MAX_DEPOSIT)
            : minStake + _bound(amountSeed >> 2, 0, MAX_DEPOSIT - 1 ether);
        VM.deal(a, a.balance + amount);
        VM.prank(a);
        try ledger.join{value: amount}("institution", keccak256(abi.encode(a))) {
            ghostPaidIn += amount;
            ghostPaidBy[a] += amount;
            ghostStake[a] += int256(amount);
            ++successes["join"];
        } catch {}
    }

    /// @notice Ask to join without a stake.
    /// @param actorSeed Picks the account.
    function requestMembership(uint256 actorSeed) external {
        address a = _outsideMostly(actorSeed);
        VM.prank(a);
        try ledger.requestMembership("applicant", keccak256(abi.encode(a))) {
            ++successes["requestMembership"];
        } catch {}
    }

    /// @notice Approve a pending member (mostly as the admin).
    /// @param callerSeed Picks the caller.
    /// @param actorSeed Picks the account approved.
    function approveMember(uint256 callerSeed, uint256 actorSeed) external {
        address caller = _caller(callerSeed, admin);
        bool authorized = caller == admin;
        bytes32 before = _fingerprintUnless(authorized);
        VM.prank(caller);
        try ledger.approveMember(_member(actorSeed)) {
            _succeeded(authorized, "approveMember");
        } catch {}
        _checkUnchanged(authorized, before);
    }

    /// @notice Top the stake up (any amount up to MAX_DEPOSIT, zero included).
    /// @param actorSeed Picks the account.
    /// @param amountSeed Picks the amount.
    function topUp(uint256 actorSeed, uint256 amountSeed) external {
        address a = _anyone(actorSeed);
        uint256 amount = _bound(amountSeed, 0, MAX_DEPOSIT);
        VM.deal(a, a.balance + amount);
        VM.prank(a);
        try ledger.topUp{value: amount}() {
            ghostPaidIn += amount;
            ghostPaidBy[a] += amount;
            ghostStake[a] += int256(amount);
            ++successes["topUp"];
        } catch {}
    }

    /// @notice Ask to leave: the unbonding period starts.
    /// @param actorSeed Picks the account.
    function requestLeave(uint256 actorSeed) external {
        address a = _anyone(actorSeed);
        uint256 unlockAt = block.timestamp + ledger.unbondingPeriod();
        VM.prank(a);
        try ledger.requestLeave() {
            ghostUnlockAt[a] = unlockAt;
            ++successes["requestLeave"];
        } catch {}
    }

    /// @notice Take the stake back after the unbonding period.
    /// @param actorSeed Picks the account.
    function withdrawStake(uint256 actorSeed) external {
        address a = _anyone(actorSeed);
        uint256 stake = ledger.getMember(a).stake;
        VM.prank(a);
        try ledger.withdrawStake() {
            if (block.timestamp < ghostUnlockAt[a]) ++ruleBreaks;
            ghostReturned += stake;
            ghostStake[a] -= int256(stake);
            ++successes["withdrawStake"];
        } catch {}
    }

    /// @notice Change the unbonding period (mostly as the admin), up to four hours.
    /// @param callerSeed Picks the caller.
    /// @param periodSeed Picks the period.
    function setUnbondingPeriod(uint256 callerSeed, uint256 periodSeed) external {
        address caller = _caller(callerSeed, admin);
        bool authorized = caller == admin;
        bytes32 before = _fingerprintUnless(authorized);
        VM.prank(caller);
        try ledger.setUnbondingPeriod(_bound(periodSeed, 0, 4 hours)) {
            _succeeded(authorized, "setUnbondingPeriod");
        } catch {}
        _checkUnchanged(authorized, before);
    }

    /// @notice Slash up to the stake + 1 wei (mostly as the evaluator).
    /// @param callerSeed Picks the caller.
    /// @param actorSeed Picks the account slashed.
    /// @param amountSeed Picks the amount.
    function slash(uint256 callerSeed, uint256 actorSeed, uint256 amountSeed) external {
        address caller = _caller(callerSeed, evaluator);
        address a = _anyone(actorSeed);
        bool authorized = caller == admin || caller == evaluator;
        uint256 amount = _bound(amountSeed, 0, ledger.getMember(a).stake + 1);
        bytes32 before = _fingerprintUnless(authorized);
        VM.prank(caller);
        try ledger.slash(a, amount, keccak256("evidence")) {
            ghostSlashed += amount;
            ghostStake[a] -= int256(amount);
            _succeeded(authorized, "slash");
        } catch {}
        _checkUnchanged(authorized, before);
    }

    /// @notice Withdraw slashed stake to `sink` (mostly as the admin).
    /// @param callerSeed Picks the caller.
    /// @param amountSeed Picks the amount.
    function withdrawSlashed(uint256 callerSeed, uint256 amountSeed) external {
        address caller = _caller(callerSeed, admin);
        bool authorized = caller == admin;
        uint256 amount = _bound(amountSeed, 0, ledger.slashedBalance() + 1);
        bytes32 before = _fingerprintUnless(authorized);
        VM.prank(caller);
        try ledger.withdrawSlashed(payable(sink), amount) {
            ghostWithdrawn += amount;
            _succeeded(authorized, "withdrawSlashed");
        } catch {}
        _checkUnchanged(authorized, before);
    }

    /// @notice Change the minimum stake (mostly as the admin).
    /// @param callerSeed Picks the caller.
    /// @param amountSeed Picks the new minimum.
    function setMinStake(uint256 callerSeed, uint256 amountSeed) external {
        address caller = _caller(callerSeed, admin);
        bool authorized = caller == admin;
        bytes32 before = _fingerprintUnless(authorized);
        VM.prank(caller);
        try ledger.setMinStake(_bound(amountSeed, 0, 3 ether)) {
            _succeeded(authorized, "setMinStake");
        } catch {}
        _checkUnchanged(authorized, before);
    }

    // ------------------------------------------------------------ rounds

    /// @notice Open a round (mostly as the aggregator).
    /// @param callerSeed Picks the caller.
    /// @param taskSeed Picks the task.
    /// @param deadlineSeed Picks the deadline.
    function openRound(uint256 callerSeed, uint256 taskSeed, uint256 deadlineSeed) external {
        address caller = _caller(callerSeed, aggregator);
        bool authorized = caller == aggregator;
        if (authorized && ledger.roundCount() >= MAX_ROUNDS) return;
        uint256 taskId = _tasks[taskSeed % _tasks.length];
        bytes32 before = _fingerprintUnless(authorized);
        VM.prank(caller);
        try ledger.openRound(taskId, keccak256(abi.encode(taskSeed)), block.timestamp + _bound(deadlineSeed, 1 hours, 1 days)) {
            _succeeded(authorized, "openRound");
        } catch {}
        _checkUnchanged(authorized, before);
    }

    /// @dev One to CANDIDATES candidates, from `actorSeed` on, commit to the same round; one
    ///      call in four, an account drawn from everyone tries first.
    /// @notice Commit several accounts to one round.
    /// @param actorSeed Picks the first account.
    /// @param roundSeed Picks the round.
    /// @param countSeed Picks how many.
    function commit(uint256 actorSeed, uint256 roundSeed, uint256 countSeed) external {
        uint256 roundId = _roundId(roundSeed);
        if (countSeed % 4 == 0) _commitAs(_anyone(actorSeed >> 8), roundId);
        uint256 count = 1 + countSeed % CANDIDATES;
        for (uint256 k; k < count; ++k) {
            _commitAs(_member(actorSeed % CANDIDATES + k), roundId);
        }
    }

    function _commitAs(address a, uint256 roundId) private {
        IFederationLedger.MemberInfo memory m = ledger.getMember(a);
        bool allowed = m.status == IFederationLedger.MemberStatus.Active
            && (m.stakeExempt || m.stake >= ledger.minStake());
        VM.prank(a);
        try ledger.commit(roundId, keccak256(abi.encode(a, roundId))) {
            if (!allowed) ++ruleBreaks;
            ++successes["commit"];
        } catch {}
    }

    /// @notice Finalize a round with random scores and dropouts (mostly as the evaluator).
    /// @param callerSeed Picks the caller.
    /// @param roundSeed Picks the round.
    /// @param scoreSeed Picks the scores.
    /// @param dropSeed Picks the dropouts.
    function finalizeRound(uint256 callerSeed, uint256 roundSeed, uint256 scoreSeed, uint256 dropSeed) external {
        address caller = _caller(callerSeed, evaluator);
        bool authorized = caller == evaluator;
        uint256 roundId = _roundId(roundSeed);
        address[] memory participants;
        if (roundId <= ledger.roundCount()) participants = ledger.participantsOf(roundId);
        uint256 n = participants.length;
        int256[] memory scores = new int256[](n);
        for (uint256 i; i < n; ++i) {
            // Scores in [-1.0, 2.0) in fixed point 1e6, zero included.
            scores[i] = int256(uint256(keccak256(abi.encode(scoreSeed, i))) % 3e6) - 1e6;
        }
        uint256[] memory dropped = _droppedBitmap(roundId, n, dropSeed);
        bytes32 before = _fingerprintUnless(authorized);
        if (_finalizeAs(caller, roundId, participants, scores, dropped)) _succeeded(authorized, "finalizeRound");
        _checkUnchanged(authorized, before);
    }

    /// @notice Merkle scores: settle one participant of a round (as anyone) with the proof of
    ///         the score and dropout finalize committed; one call in four with a score, dropout
    ///         flag or proof tampered with (the ledger must refuse it).
    /// @param callerSeed Picks the caller.
    /// @param roundSeed Picks the round.
    /// @param indexSeed Picks the participant.
    /// @param tamperSeed Picks whether and how to tamper.
    function settle(uint256 callerSeed, uint256 roundSeed, uint256 indexSeed, uint256 tamperSeed) external {
        uint256 roundId = _roundId(roundSeed);
        address[] memory participants;
        if (roundId <= ledger.roundCount()) participants = ledger.participantsOf(roundId);
        if (participants.length == 0) return;
        uint256 index = indexSeed % participants.length;
        (int256 score, bool dropped, bytes32[] memory proof, bool forged) =
            _settlement(roundId, participants.length, index, tamperSeed);
        _settleAs(_anyone(callerSeed), roundId, participants[index], score, dropped, proof, forged);
    }

    /// @dev Finalize as `caller`; on success, the ghosts of the scores (credited now when eager,
    ///      at settle with Merkle scores, whose committed scores and dropouts are kept).
    function _finalizeAs(
        address caller,
        uint256 roundId,
        address[] memory participants,
        int256[] memory scores,
        uint256[] memory dropped
    ) private returns (bool ok) {
        // With Merkle scores the commit order names the participants: finalize takes none.
        address[] memory named = merkleScores ? new address[](0) : participants;
        VM.prank(caller);
        try ledger.finalizeRound(roundId, keccak256("aggregated"), 912_345, named, scores, dropped) {
            ok = true;
        } catch {}
        if (!ok) return false;
        uint256 n = participants.length;
        for (uint256 i; i < n; ++i) {
            ghostFinalizedScore[participants[i]] += scores[i];
            if (merkleScores) ghostUnsettledScore[participants[i]] += scores[i];
            else ghostScore[participants[i]] += scores[i];
        }
        uint256 droppedWord = n == 0 ? 0 : dropped[0];
        if (merkleScores) {
            _committedScores[roundId] = scores;
            _committedDropped[roundId] = droppedWord;
        } else {
            ghostCredited += ledger.getRound(roundId).rewarded;
        }
        _checkCohortAndExclusions(roundId, droppedWord);
    }

    /// @dev The score, dropout flag and proof of participant `index` as finalize committed them
    ///      (score 0 and no proof if the round was not finalized), tampered with one time in
    ///      four; `forged` when the ledger must refuse them.
    function _settlement(uint256 roundId, uint256 n, uint256 index, uint256 tamperSeed)
        private
        view
        returns (int256 score, bool dropped, bytes32[] memory proof, bool forged)
    {
        int256[] memory scores = _committedScores[roundId];
        bool finalized = scores.length == n;
        if (finalized) {
            score = scores[index];
            proof = _scoreProof(roundId, scores, _committedDropped[roundId], index);
        }
        dropped = (_committedDropped[roundId] >> index) & 1 == 1;
        uint256 tamper = tamperSeed % 8;
        if (tamper == 1) score += 1;
        else if (tamper == 2) dropped = !dropped;
        else if (tamper == 3 && proof.length != 0) proof[(tamperSeed >> 3) % proof.length] ^= bytes32(uint256(1));
        forged = !finalized || tamper == 1 || tamper == 2 || (tamper == 3 && proof.length != 0);
    }

    function _settleAs(
        address caller,
        uint256 roundId,
        address account,
        int256 score,
        bool dropped,
        bytes32[] memory proof,
        bool forged
    ) private {
        uint256 pendingBefore = ledger.getMember(account).pendingReward;
        VM.prank(caller);
        try ledger.settle(roundId, account, score, dropped, proof) {
            if (forged) ++forgedSettlements;
            ghostScore[account] += score;
            ghostUnsettledScore[account] -= score;
            ghostCredited += ledger.getMember(account).pendingReward - pendingBefore;
            ++successes["settle"];
        } catch {}
    }

    /// @notice Exclude a committed participant for a reason (mostly as the evaluator).
    /// @param callerSeed Picks the caller.
    /// @param roundSeed Picks the round.
    /// @param indexSeed Picks the participant.
    /// @param reasonSeed Picks the reason (None included: refused).
    function excludeParticipant(uint256 callerSeed, uint256 roundSeed, uint256 indexSeed, uint256 reasonSeed) external {
        address caller = _caller(callerSeed, evaluator);
        bool authorized = caller == evaluator;
        uint256 roundId = _roundId(roundSeed);
        address[] memory participants;
        if (roundId <= ledger.roundCount()) participants = ledger.participantsOf(roundId);
        address account = participants.length == 0 ? _anyone(indexSeed) : participants[indexSeed % participants.length];
        IFederationLedger.ExclusionReason reason = IFederationLedger.ExclusionReason(reasonSeed % 3);
        bytes32 before = _fingerprintUnless(authorized);
        VM.prank(caller);
        try ledger.excludeParticipant(roundId, account, reason) {
            _succeeded(authorized, "excludeParticipant");
        } catch {}
        _checkUnchanged(authorized, before);
    }

    /// @notice Try to create a task with a random minimum cohort (as the admin); a task below
    ///         MIN_COHORT that is created breaks the cohort rule.
    /// @param requiredSeed Picks the minimum cohort.
    function createTask(uint256 requiredSeed) external {
        if (_tasks.length >= 4) return;
        uint256 required = requiredSeed % 6;
        VM.prank(admin);
        try ledger.createTask(keccak256(abi.encode("model", requiredSeed)), keccak256("val"), 1 ether, required) returns (
            uint256 taskId
        ) {
            if (required < ledger.MIN_COHORT()) ++roundRuleBreaks;
            _tasks.push(taskId);
            ++successes["createTask"];
        } catch {}
    }

    /// @notice Cancel a round (as anyone).
    /// @param callerSeed Picks the caller.
    /// @param roundSeed Picks the round.
    function cancelRound(uint256 callerSeed, uint256 roundSeed) external {
        // One call in eight with an empty reason (refused).
        string memory reason = roundSeed % 8 == 1 ? "" : "deadline passed without enough updates";
        // Anyone: a cancel by a role would end most rounds before anyone commits.
        address caller = _anyone(callerSeed);
        bool authorized = caller == aggregator || caller == admin;
        uint256 roundId = _roundId(roundSeed);
        bytes32 before = _fingerprintUnless(authorized);
        VM.prank(caller);
        try ledger.cancelRound(roundId, reason) {
            _succeeded(authorized, "cancelRound");
        } catch {}
        _checkUnchanged(authorized, before);
    }

    /// @notice Claim pending rewards.
    /// @param actorSeed Picks the account.
    function claim(uint256 actorSeed) external {
        address a = _anyone(actorSeed);
        VM.prank(a);
        try ledger.claim() returns (uint256 amount) {
            ghostClaimed += amount;
            ++successes["claim"];
        } catch {}
    }

    /// @notice Let up to an hour pass.
    /// @param secondsSeed Picks how long.
    function warp(uint256 secondsSeed) external {
        VM.warp(block.timestamp + _bound(secondsSeed, 1, 1 hours));
    }

    // ------------------------------------------------------------ helpers

    /// @notice A digest of everything a call could change: totals, every actor's record and
    ///         balances, every round's record.
    /// @return digest keccak256 of the encoded state.
    function fingerprint() public view returns (bytes32 digest) {
        digest = keccak256(
            abi.encode(
                ledger.minStake(),
                ledger.totalStaked(),
                ledger.totalReturned(),
                ledger.totalSlashed(),
                ledger.slashedBalance(),
                ledger.roundCount(),
                ledger.taskCount(),
                address(ledger).balance,
                token.totalSupply()
            )
        );
        for (uint256 i; i < _actors.length; ++i) {
            digest = keccak256(abi.encode(digest, ledger.getMember(_actors[i]), _actors[i].balance));
        }
        uint256 rounds = ledger.roundCount();
        for (uint256 r = 1; r <= rounds; ++r) {
            digest = keccak256(abi.encode(digest, ledger.getRound(r), ledger.getParticipants(r)));
        }
    }

    /// @dev The ledger's score tree over `scores` (leaves as `_scoreLeaf`, sorted pairs, the last
    ///      node of an odd level carried up) and the sibling path of leaf `index`.
    function _scoreProof(uint256 roundId, int256[] memory scores, uint256 droppedWord, uint256 index)
        private
        pure
        returns (bytes32[] memory proof)
    {
        uint256 m = scores.length;
        bytes32[] memory nodes = new bytes32[](m);
        for (uint256 i; i < m; ++i) {
            bool isDropped = (droppedWord >> i) & 1 == 1;
            nodes[i] = keccak256(bytes.concat(keccak256(abi.encode(roundId, i, scores[i], isDropped))));
        }
        bytes32[] memory path = new bytes32[](8);
        uint256 depth;
        while (m > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < m) path[depth++] = nodes[sibling];
            uint256 half = m >> 1;
            for (uint256 i; i < half; ++i) {
                nodes[i] = Hashes.commutativeKeccak256(nodes[2 * i], nodes[2 * i + 1]);
            }
            if (m & 1 == 1) nodes[half] = nodes[m - 1];
            m = half + (m & 1);
            index >>= 1;
        }
        proof = new bytes32[](depth);
        for (uint256 k; k < depth; ++k) {
            proof[k] = path[k];
        }
    }

    function _fingerprintUnless(bool authorized) private view returns (bytes32) {
        return authorized ? bytes32(0) : fingerprint();
    }

    function _checkUnchanged(bool authorized, bytes32 before) private {
        if (!authorized && fingerprint() != before) ++unauthorizedChanges;
    }

    /// @dev Random dropouts one call in three; one call in two also marks the excluded
    ///      participants (so that finalizing a round with exclusions can succeed).
    function _droppedBitmap(uint256 roundId, uint256 n, uint256 dropSeed) private view returns (uint256[] memory dropped) {
        dropped = new uint256[](n != 0 ? 1 : 0);
        if (n == 0) return dropped;
        if (dropSeed % 3 == 0) dropped[0] = dropSeed % (1 << n);
        if ((dropSeed >> 8) % 2 == 0) {
            IFederationLedger.ParticipantInfo[] memory infos = ledger.getParticipants(roundId);
            for (uint256 i; i < n; ++i) {
                if (infos[i].exclusion != IFederationLedger.ExclusionReason.None) dropped[0] |= 1 << i;
            }
        }
    }

    /// @dev `droppedWord`: the dropouts finalize was given (with Merkle scores a participant
    ///      reads as dropped only once settled; a dropped participant is never rewarded).
    function _checkCohortAndExclusions(uint256 roundId, uint256 droppedWord) private {
        IFederationLedger.RoundInfo memory r = ledger.getRound(roundId);
        uint256 included = r.participantCount - r.droppedCount;
        if (included < ledger.MIN_COHORT() || included < ledger.getTask(r.taskId).requiredParticipants) {
            ++roundRuleBreaks;
        }
        IFederationLedger.ParticipantInfo[] memory infos = ledger.getParticipants(roundId);
        for (uint256 i; i < infos.length; ++i) {
            bool isDropped = (droppedWord >> i) & 1 == 1;
            if (infos[i].exclusion != IFederationLedger.ExclusionReason.None && (!isDropped || infos[i].reward != 0)) {
                ++roundRuleBreaks;
            }
        }
    }

    function _succeeded(bool authorized, string memory name) private {
        if (!authorized) ++unauthorizedChanges;
        ++successes[name];
    }

    /// @dev A candidate member or an outsider (outsiders only ever reach member entry points
    ///      through `_anyone`, so they stay non-members unless approved by mistake).
    function _member(uint256 seed) private view returns (address) {
        return _actors[seed % CANDIDATES];
    }

    /// @dev Three calls in four from `role`, the rest from anyone (each role and outsider).
    function _caller(uint256 seed, address role) private view returns (address) {
        return seed % 4 == 0 ? _anyone(seed >> 2) : role;
    }

    /// @dev Three calls in four the first candidate from `seed` on that is not a member (or
    ///         left); otherwise (or if all are members) the candidate `seed` names.
    function _outsideMostly(uint256 seed) private view returns (address) {
        if (seed % 4 != 0) {
            for (uint256 k; k < CANDIDATES; ++k) {
                address a = _member((seed >> 2) % CANDIDATES + k);
                IFederationLedger.MemberStatus status = ledger.getMember(a).status;
                if (status == IFederationLedger.MemberStatus.None || status == IFederationLedger.MemberStatus.Left) {
                    return a;
                }
            }
        }
        return _member(seed >> 2);
    }

    function _anyone(uint256 seed) private view returns (address) {
        return _actors[seed % _actors.length];
    }

    /// @dev Mostly one of the three latest rounds; one time in eight the next id (unknown).
    function _roundId(uint256 seed) private view returns (uint256) {
        uint256 count = ledger.roundCount();
        if (count == 0 || seed % 8 == 0) return count + 1;
        uint256 back = (seed >> 3) % (count < 3 ? count : 3);
        return count - back;
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) private pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
