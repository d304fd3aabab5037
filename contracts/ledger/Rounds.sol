// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IFederationLedger} from "../IFederationLedger.sol";
import {Membership} from "./Membership.sol";
import {RewardPolicy} from "../rewards/RewardPolicy.sol";
import {RewardToken} from "../RewardToken.sol";

/// @title Rounds
/// @notice Tasks, rounds, commitments, the one-transaction finalize that records scores and
///         performance, and the rewards that follow (split by the reward policy the ledger is
///         composed with, credited here, claimed as RewardToken).
/// @dev Fixed point: scores and performance are int256 scaled by SCORE_SCALE (1e6).
///      Two settlements, chosen at deployment (`merkleScores`): eager, where finalize writes each
///      participant's record and member totals; or Merkle, where finalize only emits each score
///      and stores the root of a tree the ledger builds over them, and `settle` credits each
///      participant later with a proof (the same checks and the same rewards, paid by the settler).
abstract contract Rounds is Membership, RewardPolicy {
    /// @notice Fixed-point scale of scores and performance (1.0 == 1e6).
    int256 public constant SCORE_SCALE = 1e6;
    /// @notice Largest absolute score of one participant in one round (int64 storage).
    int256 public constant MAX_ABS_SCORE = type(int64).max;
    /// @notice Most participants one round accepts (bounds the finalize transaction).
    uint256 public constant MAX_PARTICIPANTS = 512;
    /// @notice Longest reason a cancelled round records, in bytes.
    uint256 public constant MAX_REASON_BYTES = 256;
    /// @notice Least minimum cohort of a task: with fewer included participants, each could
    ///         subtract its own update from the published model and read the others'.
    uint256 public constant MIN_COHORT = 3;
    /// @notice Least number of parties of a party task (its parties keep their model shares).
    uint256 public constant MIN_PARTIES = 2;

    uint8 private constant FLAG_COMMITTED = 1;
    uint8 private constant FLAG_DROPPED = 2;
    uint8 private constant FLAG_SETTLED = 4;

    /// @dev Slot 0 is created by commit (the account makes it non-zero) and only updated by
    ///      finalize (flags + score), so finalizing a participant never pays for a fresh slot.
    ///      A participant's reward is derived by the policy from its score, the round's budget
    ///      and the round's normalizer (see `_participantInfo`), so it needs no storage of its own.
    ///      `exclusion` shares slot 0; finalize reads it only in a round with exclusions
    ///      (`Round.excludedCount`), so a round without any pays nothing for that check.
    struct Participation {
        // slot 0
        address account;
        uint8 flags;
        int64 score;
        ExclusionReason exclusion;
        // slot 1
        bytes32 commitment;
    }

    struct Round {
        // slot 0
        uint64 taskId;
        uint64 openedAt;
        uint64 deadline;
        RoundStatus status;
        uint32 droppedCount;
        uint16 excludedCount;
        // slots 1-5
        bytes32 globalModelHash;
        bytes32 aggregatedModelHash;
        int256 performance;
        uint128 budget;
        uint128 dust;
        uint256 positiveScoreSum;
        Participation[] participants;
    }

    /// @dev Running totals of one finalize, kept in memory to spare the stack.
    struct Settlement {
        uint256 roundId;
        uint256 budget;
        uint256 normalizer;
        uint256 paid;
        uint256 droppedCount;
    }

    /// @notice The token in which rewards are paid (this ledger must hold its MINTER_ROLE).
    RewardToken public immutable rewardToken;
    /// @notice Whether finalize commits scores as a Merkle root, settled per participant by `settle`.
    bool public immutable merkleScores;
    /// @notice Number of tasks created; task ids run from 1 to taskCount.
    uint256 public taskCount;
    /// @notice Number of rounds opened; round ids run from 1 to roundCount.
    uint256 public roundCount;

    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 roundId => Round) private _rounds;
    mapping(uint256 roundId => mapping(address account => uint256 indexPlusOne)) private _positionOf;
    mapping(uint256 roundId => bytes32 root) private _scoresRoot;

    /// @param token Reward token; grant this ledger its MINTER_ROLE before anyone claims.
    /// @param merkleScores_ Settle scores lazily against a Merkle root instead of at finalize.
    constructor(RewardToken token, bool merkleScores_) {
        rewardToken = token;
        merkleScores = merkleScores_;
    }

    // ---------------------------------------------------------------- tasks and rounds

    /// @inheritdoc IFederationLedger
    function createTask(
        bytes32 modelSpecHash,
        bytes32 validationSpecHash,
        uint256 rewardPerRound,
        uint256 requiredParticipants
    ) external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint256 taskId) {
        taskId = _createTask(modelSpecHash, validationSpecHash, rewardPerRound, requiredParticipants, false);
    }

    /// @inheritdoc IFederationLedger
    function createPartyTask(bytes32 modelSpecHash, bytes32 validationSpecHash, uint256 rewardPerRound, uint256 parties)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (uint256 taskId)
    {
        taskId = _createTask(modelSpecHash, validationSpecHash, rewardPerRound, parties, true);
    }

    /// @inheritdoc IFederationLedger
    function openRound(uint256 taskId, bytes32 globalModelHash, uint256 deadline)
        external
        onlyRole(AGGREGATOR_ROLE)
        returns (uint256 roundId)
    {
        Task storage t = _tasks[taskId];
        if (t.createdAt == 0) revert UnknownTask(taskId);
        if (globalModelHash == bytes32(0)) revert EmptyHash();
        if (deadline <= block.timestamp || deadline > type(uint64).max) {
            revert DeadlineNotInFuture(deadline, block.timestamp);
        }
        roundId = ++roundCount;
        Round storage r = _rounds[roundId];
        r.taskId = uint64(taskId);
        r.openedAt = uint64(block.timestamp);
        r.deadline = uint64(deadline);
        r.status = RoundStatus.Open;
        r.globalModelHash = globalModelHash;
        r.budget = t.rewardPerRound;
        emit RoundOpened(roundId, taskId, globalModelHash, deadline, t.rewardPerRound);
    }

    /// @inheritdoc IFederationLedger
    function commit(uint256 roundId, bytes32 updateHash) external {
        Member storage m = _members[msg.sender];
        if (m.status != MemberStatus.Active) revert NotMember(msg.sender);
        if (!m.stakeExempt && m.stake < minStake) revert StakeBelowMinimum(msg.sender, m.stake, minStake);
        Round storage r = _openRoundOrRevert(roundId);
        if (block.timestamp > r.deadline) revert CommitAfterDeadline(roundId, r.deadline, block.timestamp);
        if (updateHash == bytes32(0)) revert EmptyHash();
        mapping(address => uint256) storage positionOf = _positionOf[roundId];
        if (positionOf[msg.sender] != 0) revert AlreadyCommitted(roundId, msg.sender);
        uint256 index = r.participants.length;
        if (index >= MAX_PARTICIPANTS) revert RoundFull(roundId, MAX_PARTICIPANTS);
        r.participants.push(
            Participation({
                account: msg.sender,
                flags: FLAG_COMMITTED,
                score: 0,
                exclusion: ExclusionReason.None,
                commitment: updateHash
            })
        );
        positionOf[msg.sender] = index + 1;
        m.openCommitments += 1;
        emit UpdateCommitted(roundId, msg.sender, index, updateHash);
    }

    /// @inheritdoc IFederationLedger
    /// @dev `participants` must repeat the committed participants in commit order (see
    ///      `participantsOf`); `scores[i]` belongs to `participants[i]`. Bit i of `dropped`
    ///      (word i / 256, bit i % 256) marks participant i as a dropout: recorded, not rewarded.
    ///      The reward policy gives the round's normalizer, then each reward; the ledger checks
    ///      that they add up to at most the budget. With `merkleScores`, `participants` is empty
    ///      (the commit order names them) and nothing per participant is stored.
    function finalizeRound(
        uint256 roundId,
        bytes32 aggregatedModelHash,
        int256 performance,
        address[] calldata participants,
        int256[] calldata scores,
        uint256[] calldata dropped
    ) external onlyRole(EVALUATOR_ROLE) {
        Round storage r = _openRoundOrRevert(roundId);
        uint256 n = r.participants.length;
        uint256 required = _checkFinalizeShape(r, roundId, n, participants.length, scores.length, dropped);
        if (aggregatedModelHash == bytes32(0)) revert EmptyHash();
        Settlement memory st = Settlement({
            roundId: roundId,
            budget: r.budget,
            normalizer: _checkedNormalizer(scores, dropped),
            paid: 0,
            droppedCount: 0
        });
        if (r.excludedCount != 0) _checkExclusionsDropped(r.participants, roundId, dropped);
        if (merkleScores) _commitScores(scores, dropped, st);
        else _settleAll(r.participants, participants, scores, dropped, st);
        if (n - st.droppedCount < required) revert CohortTooSmall(roundId, n - st.droppedCount, required);
        if (st.paid > st.budget) revert PolicyOverpaid(roundId, st.paid, st.budget);
        _record(r, st, aggregatedModelHash, performance);
    }

    /// @inheritdoc IFederationLedger
    /// @dev The reason sits in the participant's slot 0 (see `Participation`); finalize checks it.
    function excludeParticipant(uint256 roundId, address account, ExclusionReason reason)
        external
        onlyRole(EVALUATOR_ROLE)
    {
        if (reason == ExclusionReason.None) revert InvalidExclusionReason();
        Round storage r = _openRoundOrRevert(roundId);
        uint256 position = _positionOf[roundId][account];
        if (position == 0) revert NotParticipant(roundId, account);
        Participation storage p = r.participants[position - 1];
        if (p.exclusion != ExclusionReason.None) revert AlreadyExcluded(roundId, account, p.exclusion);
        p.exclusion = reason;
        ++r.excludedCount;
        emit ParticipantExcluded(roundId, account, reason);
    }

    /// @inheritdoc IFederationLedger
    /// @dev Callable by an aggregator or the admin (the evaluator finalizes, it does not cancel).
    ///      Nothing is scored or paid; the commitments stay on record (`getParticipants`) with
    ///      the round marked cancelled and no longer lock the participants' stakes.
    function cancelRound(uint256 roundId, string calldata reason) external {
        if (!hasRole(AGGREGATOR_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotRoundManager(msg.sender);
        }
        uint256 length = bytes(reason).length;
        if (length == 0 || length > MAX_REASON_BYTES) revert InvalidReason(length);
        Round storage r = _openRoundOrRevert(roundId);
        Participation[] storage records = r.participants;
        uint256 n = records.length;
        for (uint256 i; i < n; ++i) {
            _members[records[i].account].openCommitments -= 1;
        }
        r.status = RoundStatus.Cancelled;
        emit RoundCancelled(roundId, r.taskId, msg.sender, reason);
    }

    /// @inheritdoc IFederationLedger
    /// @dev Scores in the tree passed finalize's range check, so a proved score fits int64.
    function settle(uint256 roundId, address account, int256 score, bool dropped, bytes32[] calldata proof)
        external
    {
        if (!merkleScores) revert MerkleScoresOff();
        Round storage r = _roundOrRevert(roundId);
        if (r.status != RoundStatus.Finalized) revert RoundNotFinalized(roundId);
        uint256 position = _positionOf[roundId][account];
        if (position == 0) revert NotParticipant(roundId, account);
        Participation storage p = r.participants[position - 1];
        if (p.flags & FLAG_SETTLED != 0) revert AlreadySettled(roundId, account);
        bytes32 leaf = _scoreLeaf(roundId, position - 1, score, dropped);
        if (!MerkleProof.verifyCalldata(proof, _scoresRoot[roundId], leaf)) revert InvalidScoreProof(roundId, account);
        uint256 reward = _rewardOf(r.budget, score, dropped, r.positiveScoreSum);
        p.flags = dropped ? FLAG_COMMITTED | FLAG_DROPPED | FLAG_SETTLED : FLAG_COMMITTED | FLAG_SETTLED;
        p.score = int64(score);
        if (dropped) emit ParticipantDropped(roundId, account, score);
        else emit ParticipantScored(roundId, account, score, reward);
        Member storage m = _members[account];
        (m.cumulativeScore, m.pendingReward, m.openCommitments) =
            (m.cumulativeScore + int96(score), m.pendingReward + uint128(reward), m.openCommitments - 1);
    }

    /// @inheritdoc IFederationLedger
    function claim() external nonReentrant returns (uint256 amount) {
        Member storage m = _members[msg.sender];
        amount = m.pendingReward;
        if (amount == 0) revert NothingToClaim(msg.sender);
        m.pendingReward = 0;
        m.claimedReward += amount;
        emit RewardClaimed(msg.sender, amount);
        rewardToken.mint(msg.sender, amount);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IFederationLedger
    function getTask(uint256 taskId) external view returns (Task memory task) {
        task = _tasks[taskId];
        if (task.createdAt == 0) revert UnknownTask(taskId);
    }

    /// @inheritdoc IFederationLedger
    function getRound(uint256 roundId) external view returns (RoundInfo memory info) {
        Round storage r = _roundOrRevert(roundId);
        bool finalized = r.status == RoundStatus.Finalized;
        info = RoundInfo({
            taskId: r.taskId,
            status: r.status,
            openedAt: r.openedAt,
            deadline: r.deadline,
            globalModelHash: r.globalModelHash,
            aggregatedModelHash: r.aggregatedModelHash,
            performance: r.performance,
            budget: r.budget,
            rewarded: finalized ? r.budget - r.dust : 0,
            dust: r.dust,
            positiveScoreSum: r.positiveScoreSum,
            participantCount: r.participants.length,
            droppedCount: r.droppedCount
        });
    }

    /// @inheritdoc IFederationLedger
    function scoresRootOf(uint256 roundId) external view returns (bytes32 scoresRoot) {
        return _scoresRoot[roundId];
    }

    /// @inheritdoc IFederationLedger
    function participantsOf(uint256 roundId) external view returns (address[] memory accounts) {
        Participation[] storage records = _roundOrRevert(roundId).participants;
        accounts = new address[](records.length);
        for (uint256 i; i < records.length; ++i) {
            accounts[i] = records[i].account;
        }
    }

    /// @inheritdoc IFederationLedger
    function getParticipants(uint256 roundId) external view returns (ParticipantInfo[] memory infos) {
        Round storage r = _roundOrRevert(roundId);
        uint256 n = r.participants.length;
        infos = new ParticipantInfo[](n);
        for (uint256 i; i < n; ++i) {
            infos[i] = _participantInfo(r, i);
        }
    }

    /// @inheritdoc IFederationLedger
    function scoreOf(uint256 roundId, address account) external view returns (ParticipantInfo memory info) {
        Round storage r = _roundOrRevert(roundId);
        uint256 position = _positionOf[roundId][account];
        if (position == 0) revert NotParticipant(roundId, account);
        info = _participantInfo(r, position - 1);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Task and aggregated model hash of a finalized round; reverts for any other round.
    function _finalizedRound(uint256 roundId) internal view returns (uint256 taskId, bytes32 modelHash) {
        Round storage r = _roundOrRevert(roundId);
        if (r.status != RoundStatus.Finalized) revert RoundNotFinalized(roundId);
        return (r.taskId, r.aggregatedModelHash);
    }

    /// @dev Participant count of an open round; reverts as `commit` does for any other round.
    function _openRoundSize(uint256 roundId) internal view returns (uint256) {
        return _openRoundOrRevert(roundId).participants.length;
    }

    function _createTask(
        bytes32 modelSpecHash,
        bytes32 validationSpecHash,
        uint256 rewardPerRound,
        uint256 requiredParticipants,
        bool partyTask
    ) private returns (uint256 taskId) {
        if (modelSpecHash == bytes32(0) || validationSpecHash == bytes32(0)) revert EmptyHash();
        uint256 minimum = partyTask ? MIN_PARTIES : MIN_COHORT;
        if (requiredParticipants < minimum) revert CohortBelowMinimum(requiredParticipants, minimum);
        if (requiredParticipants > MAX_PARTICIPANTS) {
            revert InvalidRequiredParticipants(requiredParticipants, MAX_PARTICIPANTS);
        }
        if (rewardPerRound > type(uint128).max) revert RewardTooLarge(rewardPerRound);
        taskId = ++taskCount;
        _tasks[taskId] = Task({
            modelSpecHash: modelSpecHash,
            validationSpecHash: validationSpecHash,
            rewardPerRound: uint128(rewardPerRound),
            requiredParticipants: uint32(requiredParticipants),
            createdAt: uint64(block.timestamp),
            partyTask: partyTask
        });
        emit TaskCreated(taskId, modelSpecHash, validationSpecHash, rewardPerRound, requiredParticipants);
    }

    function _roundOrRevert(uint256 roundId) private view returns (Round storage r) {
        r = _rounds[roundId];
        if (r.status == RoundStatus.None) revert UnknownRound(roundId);
    }

    function _openRoundOrRevert(uint256 roundId) private view returns (Round storage r) {
        r = _roundOrRevert(roundId);
        if (r.status == RoundStatus.Finalized) revert RoundAlreadyFinalized(roundId);
        if (r.status == RoundStatus.Cancelled) revert RoundIsCancelled(roundId);
    }

    /// @dev Reads calldata and the task's minimum cohort (returned): counts and the bitmap's length.
    function _checkFinalizeShape(
        Round storage r,
        uint256 roundId,
        uint256 n,
        uint256 participantCount,
        uint256 scoreCount,
        uint256[] calldata dropped
    ) private view returns (uint256 required) {
        required = _tasks[r.taskId].requiredParticipants;
        if (n < required) revert NotEnoughParticipants(roundId, n, required);
        uint256 accounts = merkleScores ? 0 : n;
        if (participantCount != accounts) revert ParticipantCountMismatch(roundId, accounts, participantCount);
        if (scoreCount != n) revert ScoreCountMismatch(roundId, n, scoreCount);
        uint256 maxWords = (n + 255) / 256;
        if (dropped.length > maxWords) revert DroppedBitmapTooLong(dropped.length, maxWords);
        if (dropped.length == maxWords && n % 256 != 0 && dropped[maxWords - 1] >> (n % 256) != 0) {
            revert DroppedIndexOutOfRange(roundId, n);
        }
    }

    /// @dev Pass 1 reads calldata only: every score's range (so the policy never sees a score
    ///      that storage, int64, could not hold) and the policy's normalizer of the round.
    function _checkedNormalizer(int256[] calldata scores, uint256[] calldata dropped)
        private
        pure
        returns (uint256 normalizer)
    {
        for (uint256 i; i < scores.length; ++i) {
            int256 s = scores[i];
            if (s > MAX_ABS_SCORE || s < -MAX_ABS_SCORE) revert ScoreOutOfRange(i, s);
            normalizer = _accumulate(normalizer, s, _isDropped(dropped, i));
        }
    }

    /// @dev Runs only in a round with exclusions, so a round without any pays nothing for it.
    function _checkExclusionsDropped(Participation[] storage records, uint256 roundId, uint256[] calldata dropped)
        private
        view
    {
        uint256 n = records.length;
        for (uint256 i; i < n; ++i) {
            if (records[i].exclusion != ExclusionReason.None && !_isDropped(dropped, i)) {
                revert ExcludedNotDropped(roundId, i, records[i].account);
            }
        }
    }

    /// @dev Per participant: one update of the slot its commitment created and one of the
    ///      member's packed slot, plus one small event.
    function _settleAll(
        Participation[] storage records,
        address[] calldata participants,
        int256[] calldata scores,
        uint256[] calldata dropped,
        Settlement memory st
    ) private {
        uint256 n = records.length;
        for (uint256 i; i < n; ++i) {
            _settle(records[i], participants[i], i, scores[i], _isDropped(dropped, i), st);
        }
    }

    function _settle(
        Participation storage p,
        address expected,
        uint256 i,
        int256 s,
        bool isDropped,
        Settlement memory st
    ) private {
        address account = p.account;
        if (account != expected) revert ParticipantOrderMismatch(st.roundId, i, account, expected);
        uint256 reward;
        if (isDropped) {
            p.flags = FLAG_COMMITTED | FLAG_DROPPED;
            ++st.droppedCount;
            emit ParticipantDropped(st.roundId, account, s);
        } else {
            reward = _rewardOf(st.budget, s, false, st.normalizer);
            st.paid += reward;
            emit ParticipantScored(st.roundId, account, s, reward);
        }
        p.score = int64(s);
        // One tuple assignment: all three fields of the member's slot 1 are read, then written
        // together (the optimizer emits a single SSTORE instead of three).
        Member storage m = _members[account];
        (m.cumulativeScore, m.pendingReward, m.openCommitments) =
            (m.cumulativeScore + int96(s), m.pendingReward + uint128(reward), m.openCommitments - 1);
    }

    /// @dev Merkle mode, per participant: calldata, a leaf hash, a tree node and one event; no
    ///      storage. The tree is built here from the same scores the normalizer and rewards came
    ///      from, so a proved leaf always pays what the policy computed at finalize.
    function _commitScores(int256[] calldata scores, uint256[] calldata dropped, Settlement memory st) private {
        uint256 n = scores.length;
        uint256 roundId = st.roundId;
        bytes32[] memory nodes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            int256 s = scores[i];
            bool isDropped = _isDropped(dropped, i);
            if (isDropped) ++st.droppedCount;
            else st.paid += _rewardOf(st.budget, s, false, st.normalizer);
            nodes[i] = _scoreLeaf(roundId, i, s, isDropped);
            emit ScoreCommitted(roundId, i, s);
        }
        bytes32 root = _merkleRoot(nodes);
        _scoresRoot[roundId] = root;
        emit ScoresCommitted(roundId, root, dropped);
    }

    /// @dev OpenZeppelin's standard leaf, `keccak256(bytes.concat(keccak256(abi.encode(...))))`,
    ///      hashed in the memory past the free pointer (nothing is allocated per participant).
    function _scoreLeaf(uint256 roundId, uint256 index, int256 score, bool isDropped)
        private
        pure
        returns (bytes32 leaf)
    {
        // Assembly because `abi.encode` would allocate memory per participant, which grows
        // quadratically in cost over a round of hundreds of leaves.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, roundId)
            mstore(add(ptr, 0x20), index)
            mstore(add(ptr, 0x40), score)
            mstore(add(ptr, 0x60), isDropped)
            mstore(0x00, keccak256(ptr, 0x80))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @dev Root over `nodes` (overwritten): pairs hashed in sorted order as `MerkleProof`
    ///      verifies them, the last node of an odd level carried up unchanged.
    function _merkleRoot(bytes32[] memory nodes) private pure returns (bytes32) {
        uint256 m = nodes.length;
        while (m > 1) {
            uint256 half = m >> 1;
            for (uint256 i; i < half; ++i) {
                nodes[i] = Hashes.commutativeKeccak256(nodes[2 * i], nodes[2 * i + 1]);
            }
            if (m & 1 == 1) nodes[half] = nodes[m - 1];
            m = half + (m & 1);
        }
        return nodes[0];
    }

    /// @dev The round's own record of a finalize: status, model, performance, dust, normalizer.
    function _record(Round storage r, Settlement memory st, bytes32 aggregatedModelHash, int256 performance) private {
        uint256 dust = st.budget - st.paid;
        r.status = RoundStatus.Finalized;
        r.droppedCount = uint32(st.droppedCount);
        r.aggregatedModelHash = aggregatedModelHash;
        r.performance = performance;
        r.dust = uint128(dust);
        r.positiveScoreSum = st.normalizer;
        emit RoundFinalized(
            st.roundId, r.taskId, aggregatedModelHash, performance, r.participants.length, st.droppedCount, st.paid, dust
        );
    }

    function _participantInfo(Round storage r, uint256 i) private view returns (ParticipantInfo memory info) {
        Participation storage p = r.participants[i];
        bool isDropped = p.flags & FLAG_DROPPED != 0;
        bool finalized = r.status == RoundStatus.Finalized && (!merkleScores || p.flags & FLAG_SETTLED != 0);
        info = ParticipantInfo({
            account: p.account,
            index: i,
            commitment: p.commitment,
            score: p.score,
            reward: finalized ? _rewardOf(r.budget, p.score, isDropped, r.positiveScoreSum) : 0,
            dropped: isDropped,
            exclusion: p.exclusion,
            settled: finalized
        });
    }
}
