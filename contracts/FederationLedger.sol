// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RewardToken} from "./RewardToken.sol";

/// @title FederationLedger
/// @notice The permanent incentive ledger of a federated-learning consortium. It records who
///         takes part in each round, a commitment (keccak256) to each encrypted update, each
///         participant's contribution score, the aggregated model's performance, and the rewards
///         that follow. Rewards are computed here from the scores and claimed as RewardToken.
/// @dev Fixed point: scores and performance are int256 scaled by SCORE_SCALE (1e6).
///      Reward rule (mirrored to the unit by `incentive/rewards.py`): a round's budget is split in
///      proportion to the positive scores of participants that did not drop out, each share
///      rounded down; what rounding leaves over is the round's dust (recorded, never minted).
///      Roles: DEFAULT_ADMIN_ROLE (consortium), AGGREGATOR_ROLE (opens rounds),
///      EVALUATOR_ROLE (finalizes rounds and may slash).
contract FederationLedger is AccessControl, ReentrancyGuard {
    // ---------------------------------------------------------------- constants

    /// @notice Role that opens (and may cancel) rounds.
    bytes32 public constant AGGREGATOR_ROLE = keccak256("AGGREGATOR_ROLE");
    /// @notice Role that finalizes rounds with scores, and may slash stakes.
    bytes32 public constant EVALUATOR_ROLE = keccak256("EVALUATOR_ROLE");
    /// @notice Fixed-point scale of scores and performance (1.0 == 1e6).
    int256 public constant SCORE_SCALE = 1e6;
    /// @notice Largest absolute score of one participant in one round (int64 storage).
    int256 public constant MAX_ABS_SCORE = type(int64).max;
    /// @notice Most participants one round accepts (bounds the finalize transaction).
    uint256 public constant MAX_PARTICIPANTS = 512;
    /// @notice Longest member name, in bytes.
    uint256 public constant MAX_NAME_BYTES = 64;

    uint8 private constant FLAG_COMMITTED = 1;
    uint8 private constant FLAG_DROPPED = 2;

    // ---------------------------------------------------------------- types

    /// @notice Life cycle of a member.
    enum MemberStatus {
        None,
        Pending,
        Active,
        Left
    }

    /// @notice Life cycle of a round.
    enum RoundStatus {
        None,
        Open,
        Finalized,
        Cancelled
    }

    /// @dev Storage packing on purpose: slot 0 changes on join/leave/slash; slot 1 holds
    ///      everything commit, finalize and claim touch, so finalize writes exactly one member slot.
    ///      Cumulative reward = pendingReward + claimedReward.
    struct Member {
        // slot 0
        uint128 stake;
        uint64 joinedAt;
        MemberStatus status;
        // slot 1
        int96 cumulativeScore;
        uint128 pendingReward;
        uint32 openCommitments;
        // slot 2
        uint256 claimedReward;
        // slot 3
        bytes32 nodeKeyHash;
        // slot 4+
        string name;
    }

    /// @dev Slot 0 is created by commit (the account makes it non-zero) and only updated by
    ///      finalize (flags + score), so finalizing a participant never pays for a fresh slot.
    ///      A participant's reward is derived from its score, the round's budget and the round's
    ///      positive-score sum (see `_rewardOf`), so it needs no storage of its own.
    struct Participation {
        // slot 0
        address account;
        uint8 flags;
        int64 score;
        // slot 1
        bytes32 commitment;
    }

    /// @notice A federation task: what is trained, how it is validated, and what a round pays.
    struct Task {
        bytes32 modelSpecHash;
        bytes32 validationSpecHash;
        uint128 rewardPerRound;
        uint32 requiredParticipants;
        uint64 createdAt;
    }

    struct Round {
        // slot 0
        uint64 taskId;
        uint64 openedAt;
        uint64 deadline;
        RoundStatus status;
        uint32 droppedCount;
        // slots 1-5
        bytes32 globalModelHash;
        bytes32 aggregatedModelHash;
        int256 performance;
        uint128 budget;
        uint128 dust;
        uint256 positiveScoreSum;
        Participation[] participants;
    }

    /// @notice A member as an auditor reads it.
    struct MemberInfo {
        MemberStatus status;
        uint256 stake;
        uint256 joinedAt;
        string name;
        bytes32 nodeKeyHash;
        int256 cumulativeScore;
        uint256 pendingReward;
        uint256 claimedReward;
        uint256 openCommitments;
    }

    /// @notice A round as an auditor reads it (participants come from `getParticipants`).
    struct RoundInfo {
        uint256 taskId;
        RoundStatus status;
        uint256 openedAt;
        uint256 deadline;
        bytes32 globalModelHash;
        bytes32 aggregatedModelHash;
        int256 performance;
        uint256 budget;
        uint256 rewarded;
        uint256 dust;
        uint256 positiveScoreSum;
        uint256 participantCount;
        uint256 droppedCount;
    }

    /// @notice One participant of one round: its commitment and, once finalized, score and reward.
    struct ParticipantInfo {
        address account;
        uint256 index;
        bytes32 commitment;
        int256 score;
        uint256 reward;
        bool dropped;
    }

    /// @dev Running totals of one finalize, kept in memory to spare the stack.
    struct Settlement {
        uint256 roundId;
        uint256 budget;
        uint256 positiveSum;
        uint256 paid;
        uint256 droppedCount;
    }

    // ---------------------------------------------------------------- state

    /// @notice The token in which rewards are paid (this ledger must hold its MINTER_ROLE).
    RewardToken public immutable rewardToken;
    /// @notice Block in which this ledger was deployed (where an event scan starts).
    uint256 public immutable deploymentBlock;
    /// @notice Least ETH stake (wei) with which an account joins without admin approval.
    uint256 public minStake;
    /// @notice Number of tasks created; task ids run from 1 to taskCount.
    uint256 public taskCount;
    /// @notice Number of rounds opened; round ids run from 1 to roundCount.
    uint256 public roundCount;
    /// @notice All ETH ever staked (wei).
    uint256 public totalStaked;
    /// @notice All stake ever returned to members who left (wei).
    uint256 public totalReturned;
    /// @notice All stake ever slashed (wei).
    uint256 public totalSlashed;
    /// @notice Slashed stake not yet withdrawn by the admin (wei).
    uint256 public slashedBalance;

    mapping(address account => Member) private _members;
    address[] private _memberList;
    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 roundId => Round) private _rounds;
    mapping(uint256 roundId => mapping(address account => uint256 indexPlusOne)) private _positionOf;

    // ---------------------------------------------------------------- events

    /// @notice `account` joined with `stake` wei.
    event MemberJoined(address indexed account, uint256 stake, bytes32 nodeKeyHash, string name);
    /// @notice `account` asked to join without a stake; an admin must approve it.
    event MembershipRequested(address indexed account, bytes32 nodeKeyHash, string name);
    /// @notice An admin approved the pending member `account`.
    event MemberApproved(address indexed account, address indexed approver);
    /// @notice `account` left; `stakeReturned` wei were sent back to it.
    event MemberLeft(address indexed account, uint256 stakeReturned);
    /// @notice `amount` wei of `account`'s stake were slashed by `slasher`.
    event MemberSlashed(
        address indexed account, address indexed slasher, uint256 amount, uint256 remainingStake, bytes32 evidenceHash
    );
    /// @notice The admin withdrew `amount` wei of slashed stake to `to`.
    event SlashedFundsWithdrawn(address indexed to, uint256 amount);
    /// @notice The minimum stake changed.
    event MinStakeChanged(uint256 previousMinStake, uint256 newMinStake);
    /// @notice A task was created.
    event TaskCreated(
        uint256 indexed taskId,
        bytes32 modelSpecHash,
        bytes32 validationSpecHash,
        uint256 rewardPerRound,
        uint256 requiredParticipants
    );
    /// @notice A round of `taskId` opened on the global model `globalModelHash`.
    event RoundOpened(
        uint256 indexed roundId, uint256 indexed taskId, bytes32 globalModelHash, uint256 deadline, uint256 budget
    );
    /// @notice `member` committed to its encrypted update as participant number `index` of the round.
    event UpdateCommitted(uint256 indexed roundId, address indexed member, uint256 index, bytes32 updateHash);
    /// @notice `member` was scored in a finalized round and earned `reward`.
    event ParticipantScored(uint256 indexed roundId, address indexed member, int256 score, uint256 reward);
    /// @notice `member` committed but its update was missing: recorded as a dropout, no reward.
    event ParticipantDropped(uint256 indexed roundId, address indexed member, int256 score);
    /// @notice A round was finalized; `rewarded` + `dust` == the round's budget.
    event RoundFinalized(
        uint256 indexed roundId,
        uint256 indexed taskId,
        bytes32 aggregatedModelHash,
        int256 performance,
        uint256 participants,
        uint256 dropped,
        uint256 rewarded,
        uint256 dust
    );
    /// @notice A round was cancelled; its participants' commitments no longer lock their stakes.
    event RoundCancelled(uint256 indexed roundId, uint256 indexed taskId, address indexed by);
    /// @notice `member` claimed `amount` reward tokens.
    event RewardClaimed(address indexed member, uint256 amount);

    // ---------------------------------------------------------------- errors

    error NotMember(address account);
    error AlreadyMember(address account);
    error NotPending(address account);
    error InsufficientStake(address account, uint256 sent, uint256 required);
    error InvalidName(uint256 length);
    error EmptyNodeKeyHash(address account);
    error CommittedInOpenRound(address account, uint256 openCommitments);
    error StakeTransferFailed(address account, uint256 amount);
    error NotSlasher(address account);
    error NotRoundManager(address account);
    error ZeroAmount();
    error MissingEvidence(address account);
    error SlashExceedsStake(address account, uint256 amount, uint256 stake);
    error WithdrawExceedsSlashed(uint256 amount, uint256 available);
    error UnknownTask(uint256 taskId);
    error InvalidRequiredParticipants(uint256 required, uint256 max);
    error RewardTooLarge(uint256 rewardPerRound);
    error EmptyHash();
    error DeadlineNotInFuture(uint256 deadline, uint256 timestamp);
    error UnknownRound(uint256 roundId);
    error RoundAlreadyFinalized(uint256 roundId);
    error RoundIsCancelled(uint256 roundId);
    error CommitAfterDeadline(uint256 roundId, uint256 deadline, uint256 timestamp);
    error AlreadyCommitted(uint256 roundId, address account);
    error RoundFull(uint256 roundId, uint256 maxParticipants);
    error NotParticipant(uint256 roundId, address account);
    error NotEnoughParticipants(uint256 roundId, uint256 committed, uint256 required);
    error ParticipantCountMismatch(uint256 roundId, uint256 expected, uint256 given);
    error ScoreCountMismatch(uint256 roundId, uint256 expected, uint256 given);
    error ParticipantOrderMismatch(uint256 roundId, uint256 index, address expected, address given);
    error ScoreOutOfRange(uint256 index, int256 score);
    error DroppedBitmapTooLong(uint256 words, uint256 maxWords);
    error DroppedIndexOutOfRange(uint256 roundId, uint256 participants);
    error NothingToClaim(address account);

    // ---------------------------------------------------------------- construction

    /// @param admin Account that receives DEFAULT_ADMIN_ROLE.
    /// @param token Reward token; grant this ledger its MINTER_ROLE before anyone claims.
    /// @param minStake_ Least stake (wei) with which an account joins without approval.
    constructor(address admin, RewardToken token, uint256 minStake_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        rewardToken = token;
        deploymentBlock = block.number;
        minStake = minStake_;
        emit MinStakeChanged(0, minStake_);
    }

    // ---------------------------------------------------------------- membership

    /// @notice Join the consortium with an ETH stake of at least `minStake`.
    /// @param name Display name of the institution (1 to MAX_NAME_BYTES bytes).
    /// @param nodeKeyHash keccak256 of the node's public key.
    function join(string calldata name, bytes32 nodeKeyHash) external payable {
        Member storage m = _members[msg.sender];
        _checkNewMember(m, name, nodeKeyHash);
        if (msg.value < minStake) revert InsufficientStake(msg.sender, msg.value, minStake);
        if (msg.value > type(uint128).max) revert InsufficientStake(msg.sender, msg.value, type(uint128).max);
        if (m.status == MemberStatus.None) _memberList.push(msg.sender);
        m.status = MemberStatus.Active;
        m.stake = uint128(msg.value);
        m.joinedAt = uint64(block.timestamp);
        m.name = name;
        m.nodeKeyHash = nodeKeyHash;
        totalStaked += msg.value;
        emit MemberJoined(msg.sender, msg.value, nodeKeyHash, name);
    }

    /// @notice Ask to join without a stake; an admin admits the account with `approveMember`.
    /// @param name Display name of the institution (1 to MAX_NAME_BYTES bytes).
    /// @param nodeKeyHash keccak256 of the node's public key.
    function requestMembership(string calldata name, bytes32 nodeKeyHash) external {
        Member storage m = _members[msg.sender];
        _checkNewMember(m, name, nodeKeyHash);
        if (m.status == MemberStatus.None) _memberList.push(msg.sender);
        m.status = MemberStatus.Pending;
        m.name = name;
        m.nodeKeyHash = nodeKeyHash;
        emit MembershipRequested(msg.sender, nodeKeyHash, name);
    }

    /// @notice Admit a pending member without a stake.
    /// @param account The pending member.
    function approveMember(address account) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Member storage m = _members[account];
        if (m.status != MemberStatus.Pending) revert NotPending(account);
        m.status = MemberStatus.Active;
        m.joinedAt = uint64(block.timestamp);
        emit MemberApproved(account, msg.sender);
    }

    /// @notice Leave the consortium and take back the whole remaining stake.
    /// @dev Rejected while the caller has a commitment in a round that is still open.
    ///      Checks-effects-interactions and nonReentrant.
    function leave() external nonReentrant {
        Member storage m = _members[msg.sender];
        MemberStatus status = m.status;
        if (status != MemberStatus.Active && status != MemberStatus.Pending) revert NotMember(msg.sender);
        if (m.openCommitments != 0) revert CommittedInOpenRound(msg.sender, m.openCommitments);
        uint256 stake = m.stake;
        m.status = MemberStatus.Left;
        m.stake = 0;
        totalReturned += stake;
        emit MemberLeft(msg.sender, stake);
        if (stake != 0) {
            (bool ok,) = payable(msg.sender).call{value: stake}("");
            if (!ok) revert StakeTransferFailed(msg.sender, stake);
        }
    }

    /// @notice Slash `amount` wei of `account`'s stake, citing evidence.
    /// @dev Callable by the admin or an evaluator; never more than the stake.
    /// @param account The member to slash.
    /// @param amount Wei to take from the stake (1 to the stake).
    /// @param evidenceHash keccak256 of the evidence (e.g. the scoring report).
    function slash(address account, uint256 amount, bytes32 evidenceHash) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender) && !hasRole(EVALUATOR_ROLE, msg.sender)) {
            revert NotSlasher(msg.sender);
        }
        Member storage m = _members[account];
        if (m.status == MemberStatus.None) revert NotMember(account);
        if (amount == 0) revert ZeroAmount();
        if (evidenceHash == bytes32(0)) revert MissingEvidence(account);
        uint256 stake = m.stake;
        if (amount > stake) revert SlashExceedsStake(account, amount, stake);
        m.stake = uint128(stake - amount);
        totalSlashed += amount;
        slashedBalance += amount;
        emit MemberSlashed(account, msg.sender, amount, stake - amount, evidenceHash);
    }

    /// @notice Send `amount` wei of slashed stake to `to` (e.g. a consortium treasury).
    /// @param to Recipient.
    /// @param amount Wei to send (at most `slashedBalance`).
    function withdrawSlashed(address payable to, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (amount > slashedBalance) revert WithdrawExceedsSlashed(amount, slashedBalance);
        slashedBalance -= amount;
        emit SlashedFundsWithdrawn(to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert StakeTransferFailed(to, amount);
    }

    /// @notice Change the least stake with which an account joins without approval.
    /// @param newMinStake The new minimum, in wei.
    function setMinStake(uint256 newMinStake) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit MinStakeChanged(minStake, newMinStake);
        minStake = newMinStake;
    }

    // ---------------------------------------------------------------- tasks and rounds

    /// @notice Create a federation task.
    /// @param modelSpecHash keccak256 of the model specification.
    /// @param validationSpecHash keccak256 of the validation specification.
    /// @param rewardPerRound Reward-token budget (smallest unit) split among a round's participants.
    /// @param requiredParticipants Least number of commitments a round needs to be finalized.
    /// @return taskId The new task's id.
    function createTask(
        bytes32 modelSpecHash,
        bytes32 validationSpecHash,
        uint256 rewardPerRound,
        uint256 requiredParticipants
    ) external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint256 taskId) {
        if (modelSpecHash == bytes32(0) || validationSpecHash == bytes32(0)) revert EmptyHash();
        if (requiredParticipants == 0 || requiredParticipants > MAX_PARTICIPANTS) {
            revert InvalidRequiredParticipants(requiredParticipants, MAX_PARTICIPANTS);
        }
        if (rewardPerRound > type(uint128).max) revert RewardTooLarge(rewardPerRound);
        taskId = ++taskCount;
        _tasks[taskId] = Task({
            modelSpecHash: modelSpecHash,
            validationSpecHash: validationSpecHash,
            rewardPerRound: uint128(rewardPerRound),
            requiredParticipants: uint32(requiredParticipants),
            createdAt: uint64(block.timestamp)
        });
        emit TaskCreated(taskId, modelSpecHash, validationSpecHash, rewardPerRound, requiredParticipants);
    }

    /// @notice Open a round of `taskId` on the published global model.
    /// @param taskId The task.
    /// @param globalModelHash keccak256 of the global model the participants start from.
    /// @param deadline Unix time (block.timestamp) after which commitments are rejected.
    /// @return roundId The new round's id.
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

    /// @notice Commit to your encrypted update for an open round: once, before the deadline.
    /// @param roundId The round.
    /// @param updateHash keccak256 of the encrypted-update blob.
    function commit(uint256 roundId, bytes32 updateHash) external {
        Member storage m = _members[msg.sender];
        if (m.status != MemberStatus.Active) revert NotMember(msg.sender);
        Round storage r = _openRoundOrRevert(roundId);
        if (block.timestamp > r.deadline) revert CommitAfterDeadline(roundId, r.deadline, block.timestamp);
        if (updateHash == bytes32(0)) revert EmptyHash();
        mapping(address => uint256) storage positionOf = _positionOf[roundId];
        if (positionOf[msg.sender] != 0) revert AlreadyCommitted(roundId, msg.sender);
        uint256 index = r.participants.length;
        if (index >= MAX_PARTICIPANTS) revert RoundFull(roundId, MAX_PARTICIPANTS);
        r.participants.push(Participation({account: msg.sender, flags: FLAG_COMMITTED, score: 0, commitment: updateHash}));
        positionOf[msg.sender] = index + 1;
        m.openCommitments += 1;
        emit UpdateCommitted(roundId, msg.sender, index, updateHash);
    }

    /// @notice Finalize a round: record the aggregated model, its performance and one score per
    ///         participant, and credit the rewards that follow. One transaction, once.
    /// @dev `participants` must repeat the committed participants in commit order (see
    ///      `participantsOf`); `scores[i]` belongs to `participants[i]`. Bit i of `dropped`
    ///      (word i / 256, bit i % 256) marks participant i as a dropout: recorded, not rewarded.
    /// @param roundId The round.
    /// @param aggregatedModelHash keccak256 of the aggregated model.
    /// @param performance The aggregated model's performance (fixed point, 1e6).
    /// @param participants The committed participants, in commit order.
    /// @param scores One contribution score per participant (fixed point, 1e6).
    /// @param dropped Dropout bitmap; may be shorter than needed (missing words are zero).
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
        _checkFinalizeShape(r, roundId, n, participants.length, scores.length, dropped);
        if (aggregatedModelHash == bytes32(0)) revert EmptyHash();
        Settlement memory st = Settlement({
            roundId: roundId,
            budget: r.budget,
            positiveSum: _positiveScoreSum(scores, dropped),
            paid: 0,
            droppedCount: 0
        });
        _settleAll(r.participants, participants, scores, dropped, st);

        uint256 dust = st.budget - st.paid;
        r.status = RoundStatus.Finalized;
        r.droppedCount = uint32(st.droppedCount);
        r.aggregatedModelHash = aggregatedModelHash;
        r.performance = performance;
        r.dust = uint128(dust);
        r.positiveScoreSum = st.positiveSum;
        emit RoundFinalized(roundId, r.taskId, aggregatedModelHash, performance, n, st.droppedCount, st.paid, dust);
    }

    /// @notice Cancel an open round (e.g. too few commitments): nothing is scored or paid, and
    ///         the participants' stakes are no longer locked by it.
    /// @dev Callable by an aggregator or the admin.
    /// @param roundId The round.
    function cancelRound(uint256 roundId) external {
        if (!hasRole(AGGREGATOR_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotRoundManager(msg.sender);
        }
        Round storage r = _openRoundOrRevert(roundId);
        Participation[] storage records = r.participants;
        uint256 n = records.length;
        for (uint256 i; i < n; ++i) {
            _members[records[i].account].openCommitments -= 1;
        }
        r.status = RoundStatus.Cancelled;
        emit RoundCancelled(roundId, r.taskId, msg.sender);
    }

    // ---------------------------------------------------------------- rewards

    /// @notice Claim every reward credited to you so far, minted as RewardToken.
    /// @return amount The amount minted to the caller.
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

    /// @notice A member's record (status None for an unknown account).
    /// @param account The account.
    /// @return info Status, stake, metadata, cumulative score and rewards, open commitments.
    function getMember(address account) external view returns (MemberInfo memory info) {
        Member storage m = _members[account];
        info = MemberInfo({
            status: m.status,
            stake: m.stake,
            joinedAt: m.joinedAt,
            name: m.name,
            nodeKeyHash: m.nodeKeyHash,
            cumulativeScore: m.cumulativeScore,
            pendingReward: m.pendingReward,
            claimedReward: m.claimedReward,
            openCommitments: m.openCommitments
        });
    }

    /// @notice Every account that ever joined or asked to join, in order of first appearance.
    /// @return accounts The accounts.
    function members() external view returns (address[] memory accounts) {
        return _memberList;
    }

    /// @notice A task's record.
    /// @param taskId The task.
    /// @return task The task.
    function getTask(uint256 taskId) external view returns (Task memory task) {
        task = _tasks[taskId];
        if (task.createdAt == 0) revert UnknownTask(taskId);
    }

    /// @notice A round's record.
    /// @param roundId The round.
    /// @return info The round (participants come from `getParticipants`).
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

    /// @notice The committed participants of a round, in commit order.
    /// @param roundId The round.
    /// @return accounts The participants.
    function participantsOf(uint256 roundId) external view returns (address[] memory accounts) {
        Participation[] storage records = _roundOrRevert(roundId).participants;
        accounts = new address[](records.length);
        for (uint256 i; i < records.length; ++i) {
            accounts[i] = records[i].account;
        }
    }

    /// @notice Every participant of a round with commitment, score, reward and dropout flag.
    /// @param roundId The round.
    /// @return infos One entry per participant, in commit order.
    function getParticipants(uint256 roundId) external view returns (ParticipantInfo[] memory infos) {
        Round storage r = _roundOrRevert(roundId);
        uint256 n = r.participants.length;
        infos = new ParticipantInfo[](n);
        for (uint256 i; i < n; ++i) {
            infos[i] = _participantInfo(r, i);
        }
    }

    /// @notice One member's commitment, score and reward in one round.
    /// @param roundId The round.
    /// @param account The member.
    /// @return info Its record (score and reward are zero until the round is finalized).
    function scoreOf(uint256 roundId, address account) external view returns (ParticipantInfo memory info) {
        Round storage r = _roundOrRevert(roundId);
        uint256 position = _positionOf[roundId][account];
        if (position == 0) revert NotParticipant(roundId, account);
        info = _participantInfo(r, position - 1);
    }

    /// @notice Stake accounting: in == returned + slashed + held stakes.
    /// @return staked All ETH ever staked.
    /// @return returned All stake returned to leaving members.
    /// @return slashed All stake ever slashed.
    /// @return slashedHeld Slashed stake still held by the ledger.
    function stakeTotals()
        external
        view
        returns (uint256 staked, uint256 returned, uint256 slashed, uint256 slashedHeld)
    {
        return (totalStaked, totalReturned, totalSlashed, slashedBalance);
    }

    // ---------------------------------------------------------------- internals

    function _checkNewMember(Member storage m, string calldata name, bytes32 nodeKeyHash) private view {
        if (m.status == MemberStatus.Active || m.status == MemberStatus.Pending) revert AlreadyMember(msg.sender);
        uint256 length = bytes(name).length;
        if (length == 0 || length > MAX_NAME_BYTES) revert InvalidName(length);
        if (nodeKeyHash == bytes32(0)) revert EmptyNodeKeyHash(msg.sender);
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

    function _checkFinalizeShape(
        Round storage r,
        uint256 roundId,
        uint256 n,
        uint256 participantCount,
        uint256 scoreCount,
        uint256[] calldata dropped
    ) private view {
        uint256 required = _tasks[r.taskId].requiredParticipants;
        if (n < required) revert NotEnoughParticipants(roundId, n, required);
        if (participantCount != n) revert ParticipantCountMismatch(roundId, n, participantCount);
        if (scoreCount != n) revert ScoreCountMismatch(roundId, n, scoreCount);
        uint256 maxWords = (n + 255) / 256;
        if (dropped.length > maxWords) revert DroppedBitmapTooLong(dropped.length, maxWords);
        if (dropped.length == maxWords && n % 256 != 0 && dropped[maxWords - 1] >> (n % 256) != 0) {
            revert DroppedIndexOutOfRange(roundId, n);
        }
    }

    /// @dev Pass 1 reads calldata only: the positive-score sum of the participants that did not drop.
    function _positiveScoreSum(int256[] calldata scores, uint256[] calldata dropped)
        private
        pure
        returns (uint256 positiveSum)
    {
        for (uint256 i; i < scores.length; ++i) {
            int256 s = scores[i];
            if (s > MAX_ABS_SCORE || s < -MAX_ABS_SCORE) revert ScoreOutOfRange(i, s);
            if (s > 0 && !_isDropped(dropped, i)) positiveSum += uint256(s);
        }
    }

    /// @dev Pass 2: per participant, one update of the slot its commitment created and one of the
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

    function _settle(Participation storage p, address expected, uint256 i, int256 s, bool isDropped, Settlement memory st)
        private
    {
        address account = p.account;
        if (account != expected) revert ParticipantOrderMismatch(st.roundId, i, account, expected);
        uint256 reward;
        if (isDropped) {
            p.flags = FLAG_COMMITTED | FLAG_DROPPED;
            ++st.droppedCount;
            emit ParticipantDropped(st.roundId, account, s);
        } else {
            if (s > 0) {
                reward = (st.budget * uint256(s)) / st.positiveSum;
                st.paid += reward;
            }
            emit ParticipantScored(st.roundId, account, s, reward);
        }
        p.score = int64(s);
        // One tuple assignment: all three fields of the member's slot 1 are read, then written
        // together (the optimizer emits a single SSTORE instead of three).
        Member storage m = _members[account];
        (m.cumulativeScore, m.pendingReward, m.openCommitments) =
            (m.cumulativeScore + int96(s), m.pendingReward + uint128(reward), m.openCommitments - 1);
    }

    function _isDropped(uint256[] calldata dropped, uint256 i) private pure returns (bool) {
        uint256 word = i >> 8;
        return word < dropped.length && (dropped[word] >> (i & 255)) & 1 == 1;
    }

    function _rewardOf(Round storage r, int256 score, bool isDropped) private view returns (uint256) {
        if (r.status != RoundStatus.Finalized || isDropped || score <= 0) return 0;
        return (uint256(r.budget) * uint256(score)) / r.positiveScoreSum;
    }

    function _participantInfo(Round storage r, uint256 i) private view returns (ParticipantInfo memory info) {
        Participation storage p = r.participants[i];
        bool isDropped = p.flags & FLAG_DROPPED != 0;
        info = ParticipantInfo({
            account: p.account,
            index: i,
            commitment: p.commitment,
            score: p.score,
            reward: _rewardOf(r, p.score, isDropped),
            dropped: isDropped
        });
    }
}
