// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IFederationLedger
/// @notice What a federated-learning consortium's incentive ledger records and how it is read:
///         membership with stakes, tasks, rounds with one commitment per participant, one
///         contribution score per participant, the aggregated model's performance, and the
///         rewards a reward policy derives from the scores.
/// @dev Fixed point: scores and performance are int256 scaled by 1e6; hashes are bytes32.
///      Every state change emits one of the events below; every rejection is one of the errors.
interface IFederationLedger {
    // ---------------------------------------------------------------- types

    /// @notice Life cycle of a member.
    /// @dev `Leaving`: asked to leave; the stake stays slashable until the unbonding period ends.
    enum MemberStatus {
        None,
        Pending,
        Active,
        Left,
        Leaving
    }

    /// @notice Life cycle of a round.
    enum RoundStatus {
        None,
        Open,
        Finalized,
        Cancelled
    }

    /// @notice Why a committed participant was left out of a round's aggregate.
    /// @dev `None`: not excluded. `InvalidUpdate`: its update failed a validity check (e.g. a
    ///      decrypted value outside the codec's range, or a blob that does not decode).
    ///      `Gated`: left out by contribution gating. New reasons are appended, never renumbered.
    enum ExclusionReason {
        None,
        InvalidUpdate,
        Gated
    }

    /// @notice A federation task: what is trained, how it is validated, and what a round pays.
    /// @dev `requiredParticipants` is the task's minimum cohort: the least number of included
    ///      (committed and not dropped) participants a round needs to be finalized, at least
    ///      MIN_COHORT. `partyTask`: the parties keep their own model shares (vertical FL,
    ///      transfer learning), no aggregate of updates is published, and the minimum is the
    ///      number of parties (at least MIN_PARTIES).
    struct Task {
        bytes32 modelSpecHash;
        bytes32 validationSpecHash;
        uint128 rewardPerRound;
        uint32 requiredParticipants;
        uint64 createdAt;
        bool partyTask;
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
        uint256 unlockAt;
        bool stakeExempt;
    }

    /// @notice A round as an auditor reads it (participants come from `getParticipants`).
    /// @dev `positiveScoreSum` is the reward policy's normalizer of the round (for the
    ///      proportional policy: the sum of the positive scores of participants that did not drop).
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
    /// @dev `exclusion` is why the evaluator left it out of the aggregate (`None` if it did not);
    ///      an excluded participant is always also `dropped` once the round is finalized.
    ///      `settled`: score and reward are credited (at finalize, or by `settle` with Merkle
    ///      scores; until then score, reward and `dropped` read zero/false).
    struct ParticipantInfo {
        address account;
        uint256 index;
        bytes32 commitment;
        int256 score;
        uint256 reward;
        bool dropped;
        ExclusionReason exclusion;
        bool settled;
    }

    // ---------------------------------------------------------------- events

    /// @notice `account` joined with `stake` wei.
    /// @param account The new member.
    /// @param stake Wei staked.
    /// @param nodeKeyHash keccak256 of the node's public key.
    /// @param name Display name of the institution.
    event MemberJoined(address indexed account, uint256 stake, bytes32 nodeKeyHash, string name);

    /// @notice `account` asked to join without a stake; an admin must approve it.
    /// @param account The applicant.
    /// @param nodeKeyHash keccak256 of the node's public key.
    /// @param name Display name of the institution.
    event MembershipRequested(address indexed account, bytes32 nodeKeyHash, string name);

    /// @notice An admin approved the pending member `account`.
    /// @param account The member admitted.
    /// @param approver The admin who admitted it.
    event MemberApproved(address indexed account, address indexed approver);

    /// @notice `account` added `amount` wei to its stake.
    /// @param account The member.
    /// @param amount Wei added.
    /// @param stake Its stake afterwards.
    event StakeToppedUp(address indexed account, uint256 amount, uint256 stake);

    /// @notice `account` asked to leave; its stake returns after `unlockAt` and stays slashable until then.
    /// @param account The member.
    /// @param stake Its stake when it asked.
    /// @param unlockAt Unix time from which `withdrawStake` returns the stake.
    event LeaveRequested(address indexed account, uint256 stake, uint256 unlockAt);

    /// @notice The unbonding period changed.
    /// @param previousPeriod Seconds before.
    /// @param newPeriod Seconds after.
    event UnbondingPeriodChanged(uint256 previousPeriod, uint256 newPeriod);

    /// @notice `account` left; `stakeReturned` wei were sent back to it.
    /// @param account The former member.
    /// @param stakeReturned Wei returned.
    event MemberLeft(address indexed account, uint256 stakeReturned);

    /// @notice `amount` wei of `account`'s stake were slashed by `slasher`.
    /// @param account The member slashed.
    /// @param slasher The admin or evaluator who slashed.
    /// @param amount Wei taken from the stake.
    /// @param remainingStake The member's stake afterwards.
    /// @param evidenceHash keccak256 of the evidence.
    event MemberSlashed(
        address indexed account, address indexed slasher, uint256 amount, uint256 remainingStake, bytes32 evidenceHash
    );

    /// @notice The admin withdrew `amount` wei of slashed stake to `to`.
    /// @param to Recipient.
    /// @param amount Wei sent.
    event SlashedFundsWithdrawn(address indexed to, uint256 amount);

    /// @notice The minimum stake changed.
    /// @param previousMinStake The minimum before, in wei.
    /// @param newMinStake The minimum after, in wei.
    event MinStakeChanged(uint256 previousMinStake, uint256 newMinStake);

    /// @notice A task was created.
    /// @param taskId The new task.
    /// @param modelSpecHash keccak256 of the model specification.
    /// @param validationSpecHash keccak256 of the validation specification.
    /// @param rewardPerRound Reward-token budget of each round.
    /// @param requiredParticipants Least number of commitments a round needs to be finalized.
    event TaskCreated(
        uint256 indexed taskId,
        bytes32 modelSpecHash,
        bytes32 validationSpecHash,
        uint256 rewardPerRound,
        uint256 requiredParticipants
    );

    /// @notice A round of `taskId` opened on the global model `globalModelHash`.
    /// @param roundId The new round.
    /// @param taskId Its task.
    /// @param globalModelHash keccak256 of the model participants start from.
    /// @param deadline Unix time after which commitments are rejected.
    /// @param budget Reward-token budget of the round.
    event RoundOpened(
        uint256 indexed roundId, uint256 indexed taskId, bytes32 globalModelHash, uint256 deadline, uint256 budget
    );

    /// @notice `member` committed to its encrypted update as participant number `index` of the round.
    /// @param roundId The round.
    /// @param member The participant.
    /// @param index Its position in commit order.
    /// @param updateHash keccak256 of its encrypted-update blob.
    event UpdateCommitted(uint256 indexed roundId, address indexed member, uint256 index, bytes32 updateHash);

    /// @notice `member` was scored in a finalized round and earned `reward`.
    /// @param roundId The round.
    /// @param member The participant.
    /// @param score Its contribution score (fixed point, 1e6).
    /// @param reward Reward tokens credited.
    event ParticipantScored(uint256 indexed roundId, address indexed member, int256 score, uint256 reward);

    /// @notice `member` committed but its update was missing or unusable: recorded, no reward.
    /// @param roundId The round.
    /// @param member The participant.
    /// @param score The score recorded for it (normally zero).
    event ParticipantDropped(uint256 indexed roundId, address indexed member, int256 score);

    /// @notice The evaluator left `member` out of the round's aggregate for `reason`: it is
    ///         finalized as a dropout (recorded, not rewarded).
    /// @param roundId The round.
    /// @param member The participant.
    /// @param reason Why (see `ExclusionReason`).
    event ParticipantExcluded(uint256 indexed roundId, address indexed member, ExclusionReason reason);

    /// @notice A round was finalized; `rewarded` + `dust` == the round's budget.
    /// @param roundId The round.
    /// @param taskId Its task.
    /// @param aggregatedModelHash keccak256 of the aggregated model.
    /// @param performance The aggregated model's performance (fixed point, 1e6).
    /// @param participants Number of committed participants.
    /// @param dropped Number of dropouts among them.
    /// @param rewarded Reward tokens credited in total.
    /// @param dust Budget left over by rounding (never minted).
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
    /// @param roundId The round.
    /// @param taskId Its task.
    /// @param by The aggregator or admin who cancelled it.
    /// @param reason Why, in words (e.g. which participants were missing).
    event RoundCancelled(uint256 indexed roundId, uint256 indexed taskId, address indexed by, string reason);

    /// @notice `member` claimed `amount` reward tokens.
    /// @param member The claimant.
    /// @param amount Tokens minted to it.
    event RewardClaimed(address indexed member, uint256 amount);

    // ---------------------------------------------------------------- errors

    /// @notice `account` is not a member in a state that allows the call.
    /// @param account The caller or the account named.
    error NotMember(address account);
    /// @notice `account` is already an active or pending member.
    /// @param account The caller.
    error AlreadyMember(address account);
    /// @notice `account` is not waiting for approval.
    /// @param account The account named.
    error NotPending(address account);
    /// @notice `sent` wei is below the `required` stake (or above what a stake can hold).
    /// @param account The caller.
    /// @param sent Wei sent.
    /// @param required The bound the value broke.
    error InsufficientStake(address account, uint256 sent, uint256 required);
    /// @notice A member name must be 1 to MAX_NAME_BYTES bytes long.
    /// @param length The name's length in bytes.
    error InvalidName(uint256 length);
    /// @notice A member must publish a non-zero node-key hash.
    /// @param account The caller.
    error EmptyNodeKeyHash(address account);
    /// @notice `account` still has commitments in rounds that are open.
    /// @param account The caller.
    /// @param openCommitments How many.
    error CommittedInOpenRound(address account, uint256 openCommitments);
    /// @notice Sending `amount` wei to `account` failed.
    /// @param account The recipient.
    /// @param amount Wei.
    error StakeTransferFailed(address account, uint256 amount);
    /// @notice Only the admin or an evaluator may slash.
    /// @param account The caller.
    error NotSlasher(address account);
    /// @notice Only an aggregator or the admin may cancel a round.
    /// @param account The caller.
    error NotRoundManager(address account);
    /// @notice An amount of zero is not allowed here.
    error ZeroAmount();
    /// @notice A slash must cite evidence (a non-zero hash).
    /// @param account The member to be slashed.
    error MissingEvidence(address account);
    /// @notice A slash cannot take more than the stake.
    /// @param account The member.
    /// @param amount Wei asked for.
    /// @param stake Wei staked.
    error SlashExceedsStake(address account, uint256 amount, uint256 stake);
    /// @notice The admin cannot withdraw more slashed stake than the ledger holds.
    /// @param amount Wei asked for.
    /// @param available Slashed wei held.
    error WithdrawExceedsSlashed(uint256 amount, uint256 available);
    /// @notice No task has id `taskId`.
    /// @param taskId The id named.
    error UnknownTask(uint256 taskId);
    /// @notice A task may require at most `max` participants.
    /// @param required The number given.
    /// @param max The largest allowed.
    error InvalidRequiredParticipants(uint256 required, uint256 max);
    /// @notice A task's minimum cohort may not be below `minimum` (MIN_COHORT, or MIN_PARTIES for
    ///         a party task): in a smaller round each participant could read the others' updates
    ///         from the published model.
    /// @param required The number given.
    /// @param minimum The least allowed.
    error CohortBelowMinimum(uint256 required, uint256 minimum);
    /// @notice A round cannot be finalized with fewer included participants than its task's minimum
    ///         cohort (cancel it instead).
    /// @param roundId The round.
    /// @param included Participants neither dropped nor excluded.
    /// @param required The task's minimum cohort.
    error CohortTooSmall(uint256 roundId, uint256 included, uint256 required);
    /// @notice An exclusion needs a reason other than `None`.
    error InvalidExclusionReason();
    /// @notice `account` was already excluded from this round.
    /// @param roundId The round.
    /// @param account The participant.
    /// @param reason The reason recorded first.
    error AlreadyExcluded(uint256 roundId, address account, ExclusionReason reason);
    /// @notice Finalize must mark every excluded participant as dropped in the bitmap.
    /// @param roundId The round.
    /// @param index The participant's position.
    /// @param account The excluded participant.
    error ExcludedNotDropped(uint256 roundId, uint256 index, address account);
    /// @notice A round's budget must fit in 128 bits.
    /// @param rewardPerRound The budget given.
    error RewardTooLarge(uint256 rewardPerRound);
    /// @notice A hash argument was zero.
    error EmptyHash();
    /// @notice A round's deadline must lie in the future (and fit in 64 bits).
    /// @param deadline The deadline given.
    /// @param timestamp The current block time.
    error DeadlineNotInFuture(uint256 deadline, uint256 timestamp);
    /// @notice No round has id `roundId`.
    /// @param roundId The id named.
    error UnknownRound(uint256 roundId);
    /// @notice The round was already finalized.
    /// @param roundId The round.
    error RoundAlreadyFinalized(uint256 roundId);
    /// @notice The round was cancelled.
    /// @param roundId The round.
    error RoundIsCancelled(uint256 roundId);
    /// @notice Commitments are closed after the round's deadline.
    /// @param roundId The round.
    /// @param deadline Its deadline.
    /// @param timestamp The current block time.
    error CommitAfterDeadline(uint256 roundId, uint256 deadline, uint256 timestamp);
    /// @notice `account` already committed in this round.
    /// @param roundId The round.
    /// @param account The caller.
    error AlreadyCommitted(uint256 roundId, address account);
    /// @notice The round holds MAX_PARTICIPANTS commitments already.
    /// @param roundId The round.
    /// @param maxParticipants The limit.
    error RoundFull(uint256 roundId, uint256 maxParticipants);
    /// @notice `account` did not commit in this round.
    /// @param roundId The round.
    /// @param account The account named.
    error NotParticipant(uint256 roundId, address account);
    /// @notice The round has fewer commitments than its task's minimum cohort.
    /// @param roundId The round.
    /// @param committed Commitments received.
    /// @param required Commitments the task requires.
    error NotEnoughParticipants(uint256 roundId, uint256 committed, uint256 required);
    /// @notice Finalize must list every committed participant.
    /// @param roundId The round.
    /// @param expected Committed participants.
    /// @param given Participants listed.
    error ParticipantCountMismatch(uint256 roundId, uint256 expected, uint256 given);
    /// @notice Finalize must give one score per committed participant.
    /// @param roundId The round.
    /// @param expected Committed participants.
    /// @param given Scores given.
    error ScoreCountMismatch(uint256 roundId, uint256 expected, uint256 given);
    /// @notice Finalize must list the participants in commit order.
    /// @param roundId The round.
    /// @param index The first position that differs.
    /// @param expected The participant committed at that position.
    /// @param given The participant listed there.
    error ParticipantOrderMismatch(uint256 roundId, uint256 index, address expected, address given);
    /// @notice A score's magnitude must fit in int64.
    /// @param index The participant's position.
    /// @param score The score given.
    error ScoreOutOfRange(uint256 index, int256 score);
    /// @notice The dropout bitmap has more words than the round has participants.
    /// @param words Words given.
    /// @param maxWords Words the round needs at most.
    error DroppedBitmapTooLong(uint256 words, uint256 maxWords);
    /// @notice The dropout bitmap marks a position beyond the last participant.
    /// @param roundId The round.
    /// @param participants Committed participants.
    error DroppedIndexOutOfRange(uint256 roundId, uint256 participants);
    /// @notice `account`'s stake is below the minimum: it may not commit until it tops up.
    /// @param account The member.
    /// @param stake Its stake.
    /// @param minStake The minimum.
    error StakeBelowMinimum(address account, uint256 stake, uint256 minStake);
    /// @notice `account`'s stake is still bonded: it returns from `unlockAt` on.
    /// @param account The member.
    /// @param unlockAt Unix time from which the stake can be withdrawn.
    /// @param timestamp The current block time.
    error StakeStillBonded(address account, uint256 unlockAt, uint256 timestamp);
    /// @notice The unbonding period may not exceed MAX_UNBONDING_PERIOD.
    /// @param period Seconds given.
    /// @param maxPeriod The limit.
    error UnbondingPeriodTooLong(uint256 period, uint256 maxPeriod);
    /// @notice A cancellation reason must be 1 to 256 bytes long.
    /// @param length The reason's length in bytes.
    error InvalidReason(uint256 length);
    /// @notice `account` has no reward to claim.
    /// @param account The caller.
    error NothingToClaim(address account);
    /// @notice The reward policy credited more than the round's budget.
    /// @param roundId The round.
    /// @param paid What the policy credited in total.
    /// @param budget The round's budget.
    error PolicyOverpaid(uint256 roundId, uint256 paid, uint256 budget);

    // ---------------------------------------------------------------- membership

    /// @notice Join the consortium with an ETH stake of at least the minimum stake.
    /// @param name Display name of the institution (1 to 64 bytes).
    /// @param nodeKeyHash keccak256 of the node's public key.
    function join(string calldata name, bytes32 nodeKeyHash) external payable;

    /// @notice Ask to join without a stake; an admin admits the account with `approveMember`.
    /// @param name Display name of the institution (1 to 64 bytes).
    /// @param nodeKeyHash keccak256 of the node's public key.
    function requestMembership(string calldata name, bytes32 nodeKeyHash) external;

    /// @notice Admit a pending member without a stake (admin).
    /// @param account The pending member.
    function approveMember(address account) external;

    /// @notice Add the ETH sent to your stake (e.g. after a slash, or after the minimum rose).
    function topUp() external payable;

    /// @notice Ask to leave: you stop taking part at once; your stake returns through
    ///         `withdrawStake` once the unbonding period has passed, and stays slashable until then.
    function requestLeave() external;

    /// @notice After the unbonding period, take back what is left of your stake and leave.
    function withdrawStake() external;

    /// @notice Change the unbonding period (admin).
    /// @param newPeriod Seconds between `requestLeave` and `withdrawStake`.
    function setUnbondingPeriod(uint256 newPeriod) external;

    /// @notice Slash `amount` wei of `account`'s stake, citing evidence (admin or evaluator).
    /// @param account The member to slash.
    /// @param amount Wei to take from the stake.
    /// @param evidenceHash keccak256 of the evidence.
    function slash(address account, uint256 amount, bytes32 evidenceHash) external;

    /// @notice Send `amount` wei of slashed stake to `to` (admin).
    /// @param to Recipient.
    /// @param amount Wei to send.
    function withdrawSlashed(address payable to, uint256 amount) external;

    /// @notice Change the least stake with which an account joins without approval (admin).
    /// @param newMinStake The new minimum, in wei.
    function setMinStake(uint256 newMinStake) external;

    // ---------------------------------------------------------------- tasks and rounds

    /// @notice Create a federation task (admin).
    /// @param modelSpecHash keccak256 of the model specification.
    /// @param validationSpecHash keccak256 of the validation specification.
    /// @param rewardPerRound Reward-token budget split among a round's participants.
    /// @param requiredParticipants The task's minimum cohort: least number of included
    ///        participants a round needs to be finalized (MIN_COHORT or more).
    /// @return taskId The new task's id.
    function createTask(
        bytes32 modelSpecHash,
        bytes32 validationSpecHash,
        uint256 rewardPerRound,
        uint256 requiredParticipants
    ) external returns (uint256 taskId);

    /// @notice Create a party task (admin): a run whose parties keep their own model shares
    ///         (vertical FL, transfer learning), so no aggregate of individual updates is
    ///         published; every one of its `parties` must be included when a round is finalized.
    /// @param modelSpecHash keccak256 of the run's specification.
    /// @param validationSpecHash keccak256 of the validation specification.
    /// @param rewardPerRound Reward-token budget split among the parties.
    /// @param parties Number of parties (MIN_PARTIES or more).
    /// @return taskId The new task's id.
    function createPartyTask(
        bytes32 modelSpecHash,
        bytes32 validationSpecHash,
        uint256 rewardPerRound,
        uint256 parties
    ) external returns (uint256 taskId);

    /// @notice Open a round of `taskId` on the published global model (aggregator).
    /// @param taskId The task.
    /// @param globalModelHash keccak256 of the global model the participants start from.
    /// @param deadline Unix time after which commitments are rejected.
    /// @return roundId The new round's id.
    function openRound(uint256 taskId, bytes32 globalModelHash, uint256 deadline) external returns (uint256 roundId);

    /// @notice Commit to your encrypted update for an open round: once, before the deadline.
    /// @param roundId The round.
    /// @param updateHash keccak256 of the encrypted-update blob.
    function commit(uint256 roundId, bytes32 updateHash) external;

    /// @notice Finalize a round with its aggregated model, performance and scores (evaluator).
    /// @param roundId The round.
    /// @param aggregatedModelHash keccak256 of the aggregated model.
    /// @param performance The aggregated model's performance (fixed point, 1e6).
    /// @param participants The committed participants, in commit order.
    /// @param scores One contribution score per participant (fixed point, 1e6).
    /// @param dropped Dropout bitmap (bit i of word i / 256 marks participant i); it must mark
    ///        every excluded participant, and leave at least the task's minimum cohort unmarked.
    function finalizeRound(
        uint256 roundId,
        bytes32 aggregatedModelHash,
        int256 performance,
        address[] calldata participants,
        int256[] calldata scores,
        uint256[] calldata dropped
    ) external;

    /// @notice Leave a committed participant out of an open round's aggregate (evaluator), saying
    ///         why; finalize must then mark it dropped: it is recorded and not rewarded.
    /// @param roundId The round.
    /// @param account The participant.
    /// @param reason Why (not `None`).
    function excludeParticipant(uint256 roundId, address account, ExclusionReason reason) external;

    /// @notice Cancel an open round (aggregator or admin), saying why.
    /// @param roundId The round.
    /// @param reason Why, in words (1 to 256 bytes).
    function cancelRound(uint256 roundId, string calldata reason) external;

    /// @notice Claim every reward credited to you so far.
    /// @return amount The amount minted to the caller.
    function claim() external returns (uint256 amount);

    // ---------------------------------------------------------------- views

    /// @notice A member's record (status None for an unknown account).
    /// @param account The account.
    /// @return info The record.
    function getMember(address account) external view returns (MemberInfo memory info);

    /// @notice Every account that ever joined or asked to join, in order of first appearance.
    /// @return accounts The accounts.
    function members() external view returns (address[] memory accounts);

    /// @notice A task's record.
    /// @param taskId The task.
    /// @return task The task.
    function getTask(uint256 taskId) external view returns (Task memory task);

    /// @notice A round's record.
    /// @param roundId The round.
    /// @return info The round.
    function getRound(uint256 roundId) external view returns (RoundInfo memory info);

    /// @notice The committed participants of a round, in commit order.
    /// @param roundId The round.
    /// @return accounts The participants.
    function participantsOf(uint256 roundId) external view returns (address[] memory accounts);

    /// @notice Every participant of a round with commitment, score, reward, dropout flag and exclusion.
    /// @param roundId The round.
    /// @return infos One entry per participant, in commit order.
    function getParticipants(uint256 roundId) external view returns (ParticipantInfo[] memory infos);

    /// @notice One member's commitment, score and reward in one round.
    /// @param roundId The round.
    /// @param account The member.
    /// @return info Its record.
    function scoreOf(uint256 roundId, address account) external view returns (ParticipantInfo memory info);

    /// @notice Stake accounting: staked == returned + slashed + stakes held.
    /// @return staked All ETH ever staked.
    /// @return returned All stake returned to leaving members.
    /// @return slashed All stake ever slashed.
    /// @return slashedHeld Slashed stake still held by the ledger.
    function stakeTotals() external view returns (uint256 staked, uint256 returned, uint256 slashed, uint256 slashedHeld);

    // ---------------------------------------------------------------- decryptions

    /// @notice The evaluator recorded that the sum `sumHash` of the coalition `coalition` may be decrypted.
    /// @param roundId The round.
    /// @param sumHash keccak256 of the encrypted sum's bytes (the sum of the coalition's committed blobs).
    /// @param coalition Bit i set: the participant at commit position i is in the sum.
    event DecryptionRecorded(uint256 indexed roundId, bytes32 indexed sumHash, uint256 coalition);

    /// @notice The decryption arrays differ in length, are empty, or exceed the per-call limit.
    error InvalidDecryptionBatch(uint256 sumHashes, uint256 coalitions, uint256 maxPerCall);
    /// @notice A coalition is empty or names a position at or beyond the round's participant count.
    error InvalidCoalition(uint256 roundId, uint256 coalition, uint256 participants);
    /// @notice This sum is already on the round's decryption record.
    error DecryptionAlreadyRecorded(uint256 roundId, bytes32 sumHash);

    /// @notice Record sums of an open round that may be decrypted, before any custodian opens them.
    /// @dev Evaluator only. Custodians answer a decryption request only when its sum hash is on
    ///      this record for an open round with the coalition the request claims.
    /// @param roundId The round (open).
    /// @param sumHashes keccak256 of each encrypted sum's bytes.
    /// @param coalitions Bitmap of commit positions summed in each (positions < 256).
    function recordDecryptions(uint256 roundId, bytes32[] calldata sumHashes, uint256[] calldata coalitions) external;

    /// @notice The coalition recorded for a sum of a round, 0 when the sum is not on the record.
    /// @param roundId The round.
    /// @param sumHash keccak256 of the encrypted sum's bytes.
    /// @return coalition Bitmap of commit positions.
    function decryptionOf(uint256 roundId, bytes32 sumHash) external view returns (uint256 coalition);

    /// @notice Number of sums recorded for decryption in a round.
    /// @param roundId The round.
    /// @return count The number of `DecryptionRecorded` events of the round.
    function decryptionCount(uint256 roundId) external view returns (uint256 count);

    // ---------------------------------------------------------------- Merkle score settlement

    /// @notice Merkle mode: participant `index` of a finalized round was scored `score`; its
    ///         commit order names the member (`UpdateCommitted.index`). Settled later by `settle`.
    /// @param roundId The round.
    /// @param index The participant's commit position.
    /// @param score Its contribution score (fixed point, 1e6).
    event ScoreCommitted(uint256 indexed roundId, uint256 index, int256 score);

    /// @notice Merkle mode: the root of the round's score tree, computed by the ledger from the
    ///         scores it emitted (leaf: `keccak256(bytes.concat(keccak256(abi.encode(roundId,
    ///         index, score, dropped))))`, pairs hashed in sorted order, an odd node carried up),
    ///         and the round's dropout bitmap (bit i of word i / 256: recorded, not rewarded).
    /// @param roundId The round.
    /// @param scoresRoot The root.
    /// @param dropped The dropout bitmap finalize was given.
    event ScoresCommitted(uint256 indexed roundId, bytes32 scoresRoot, uint256[] dropped);

    /// @notice This ledger settles every participant at finalize (deployed without Merkle scores).
    error MerkleScoresOff();
    /// @notice The round is not finalized.
    /// @param roundId The round.
    error RoundNotFinalized(uint256 roundId);
    /// @notice The participant's score in this round was already settled.
    /// @param roundId The round.
    /// @param account The participant.
    error AlreadySettled(uint256 roundId, address account);
    /// @notice The proof does not lead from this score to the round's score root.
    /// @param roundId The round.
    /// @param account The participant.
    error InvalidScoreProof(uint256 roundId, address account);

    /// @notice Merkle mode: credit a participant's score and reward of a finalized round, proved
    ///         against the round's score root. Anyone may settle for anyone; the reward is the
    ///         participant's. A member leaves only after its rounds are settled.
    /// @param roundId The round (finalized).
    /// @param account The participant.
    /// @param score Its score, as `ScoreCommitted` emitted it.
    /// @param dropped Whether it dropped out, as `ScoresCommitted`'s bitmap marks it.
    /// @param proof Sibling hashes from its leaf to the root.
    function settle(uint256 roundId, address account, int256 score, bool dropped, bytes32[] calldata proof) external;

    /// @notice Merkle mode: the root of a finalized round's score tree (zero otherwise).
    /// @param roundId The round.
    /// @return scoresRoot The root.
    function scoresRootOf(uint256 roundId) external view returns (bytes32 scoresRoot);

    // ---------------------------------------------------------------- released model

    /// @notice The model of `roundId` is the released result of `taskId`.
    /// @param taskId The task.
    /// @param roundId The round whose aggregated model is released.
    /// @param modelHash keccak256 of the released model (the round's aggregated model hash).
    /// @param by The evaluator who released it.
    event ModelReleased(uint256 indexed taskId, uint256 indexed roundId, bytes32 modelHash, address indexed by);

    /// @notice The task already has a released model.
    /// @param taskId The task.
    /// @param roundId The round released before.
    error ModelAlreadyReleased(uint256 taskId, uint256 roundId);
    /// @notice The round belongs to another task.
    /// @param roundId The round.
    /// @param taskId The task named.
    /// @param roundTaskId The round's task.
    error RoundNotInTask(uint256 roundId, uint256 taskId, uint256 roundTaskId);
    /// @notice The released hash is not the round's recorded aggregated model hash.
    /// @param roundId The round.
    /// @param recorded The round's aggregated model hash.
    /// @param given The hash given.
    error ReleasedHashMismatch(uint256 roundId, bytes32 recorded, bytes32 given);

    /// @notice Mark a finalized round's model as the task's released result (evaluator, once per task).
    /// @param taskId The task.
    /// @param roundId Its finalized round with the best validation metric.
    /// @param modelHash The round's aggregated model hash.
    function releaseModel(uint256 taskId, uint256 roundId, bytes32 modelHash) external;

    /// @notice The released model of a task (zeros while none is released).
    /// @param taskId The task.
    /// @return roundId The released round.
    /// @return modelHash Its model hash.
    function releasedModelOf(uint256 taskId) external view returns (uint256 roundId, bytes32 modelHash);
}
