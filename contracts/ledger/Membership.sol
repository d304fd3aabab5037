// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IFederationLedger} from "../IFederationLedger.sol";

/// @title Membership
/// @notice Membership and staking of a consortium: joining with a stake or by admin approval,
///         topping the stake up, leaving through an unbonding period, slashing with evidence,
///         and the stake accounting.
/// @dev Roles: DEFAULT_ADMIN_ROLE (consortium), AGGREGATOR_ROLE (opens rounds),
///      EVALUATOR_ROLE (finalizes rounds and may slash).
///      Economic rules, decided here:
///      - A staked member whose stake is below `minStake` (after a slash, or after the minimum
///        rose) may not commit until it tops up; it keeps its score and pending rewards.
///      - A member admitted by the admin without a stake (`approveMember`) is exempt from the
///        minimum: the consortium vouches for it, and it has nothing to slash.
///      - Leaving takes an unbonding period (`requestLeave`, then `withdrawStake`): misbehaviour
///        found after a round, by an audit, can still be slashed before the stake returns.
///      - The ledger has no way to remove a member or confiscate a stake other than `slash`,
///        which needs an evidence hash; slashed stake goes to the admin's treasury
///        (`withdrawSlashed`), and a member's remaining stake always returns to it.
abstract contract Membership is IFederationLedger, AccessControl, ReentrancyGuard {
    /// @notice Role that opens (and may cancel) rounds.
    bytes32 public constant AGGREGATOR_ROLE = keccak256("AGGREGATOR_ROLE");
    /// @notice Role that finalizes rounds with scores, and may slash stakes.
    bytes32 public constant EVALUATOR_ROLE = keccak256("EVALUATOR_ROLE");
    /// @notice Longest member name, in bytes.
    uint256 public constant MAX_NAME_BYTES = 64;
    /// @notice Unbonding period of a new ledger (seconds between `requestLeave` and `withdrawStake`).
    uint256 public constant DEFAULT_UNBONDING_PERIOD = 7 days;
    /// @notice Longest unbonding period the admin may set.
    uint256 public constant MAX_UNBONDING_PERIOD = 365 days;

    /// @dev Storage packing on purpose: slot 0 changes on join/leave/slash; slot 1 holds
    ///      everything commit, finalize and claim touch, so finalize writes exactly one member slot.
    ///      Cumulative reward = pendingReward + claimedReward.
    struct Member {
        // slot 0
        uint128 stake;
        uint64 joinedAt;
        MemberStatus status;
        bool stakeExempt;
        uint40 unlockAt;
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

    /// @notice Least ETH stake (wei) with which an account joins without admin approval.
    uint256 public minStake;
    /// @notice All ETH ever staked (wei).
    uint256 public totalStaked;
    /// @notice All stake ever returned to members who left (wei).
    uint256 public totalReturned;
    /// @notice All stake ever slashed (wei).
    uint256 public totalSlashed;
    /// @notice Slashed stake not yet withdrawn by the admin (wei).
    uint256 public slashedBalance;
    /// @notice Seconds between `requestLeave` and the earliest `withdrawStake`.
    uint256 public unbondingPeriod = DEFAULT_UNBONDING_PERIOD;

    mapping(address account => Member) internal _members;
    address[] private _memberList;

    /// @param admin Account that receives DEFAULT_ADMIN_ROLE.
    /// @param minStake_ Least stake (wei) with which an account joins without approval.
    constructor(address admin, uint256 minStake_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        minStake = minStake_;
        emit MinStakeChanged(0, minStake_);
    }

    /// @inheritdoc IFederationLedger
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

    /// @inheritdoc IFederationLedger
    function requestMembership(string calldata name, bytes32 nodeKeyHash) external {
        Member storage m = _members[msg.sender];
        _checkNewMember(m, name, nodeKeyHash);
        if (m.status == MemberStatus.None) _memberList.push(msg.sender);
        m.status = MemberStatus.Pending;
        m.name = name;
        m.nodeKeyHash = nodeKeyHash;
        emit MembershipRequested(msg.sender, nodeKeyHash, name);
    }

    /// @inheritdoc IFederationLedger
    function approveMember(address account) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Member storage m = _members[account];
        if (m.status != MemberStatus.Pending) revert NotPending(account);
        m.status = MemberStatus.Active;
        m.stakeExempt = true;
        m.joinedAt = uint64(block.timestamp);
        emit MemberApproved(account, msg.sender);
    }

    /// @inheritdoc IFederationLedger
    function topUp() external payable {
        Member storage m = _members[msg.sender];
        if (m.status != MemberStatus.Active) revert NotMember(msg.sender);
        if (msg.value == 0) revert ZeroAmount();
        uint256 stake = m.stake + msg.value;
        if (stake > type(uint128).max) revert InsufficientStake(msg.sender, stake, type(uint128).max);
        m.stake = uint128(stake);
        totalStaked += msg.value;
        emit StakeToppedUp(msg.sender, msg.value, stake);
    }

    /// @inheritdoc IFederationLedger
    /// @dev Rejected while the caller has a commitment in a round that is still open.
    function requestLeave() external {
        Member storage m = _members[msg.sender];
        MemberStatus status = m.status;
        if (status != MemberStatus.Active && status != MemberStatus.Pending) revert NotMember(msg.sender);
        if (m.openCommitments != 0) revert CommittedInOpenRound(msg.sender, m.openCommitments);
        uint256 unlockAt = block.timestamp + unbondingPeriod;
        m.status = MemberStatus.Leaving;
        m.unlockAt = uint40(unlockAt);
        emit LeaveRequested(msg.sender, m.stake, unlockAt);
    }

    /// @inheritdoc IFederationLedger
    /// @dev Checks-effects-interactions and nonReentrant.
    function withdrawStake() external nonReentrant {
        Member storage m = _members[msg.sender];
        if (m.status != MemberStatus.Leaving) revert NotMember(msg.sender);
        if (block.timestamp < m.unlockAt) revert StakeStillBonded(msg.sender, m.unlockAt, block.timestamp);
        uint256 stake = m.stake;
        m.status = MemberStatus.Left;
        m.stake = 0;
        m.stakeExempt = false;
        totalReturned += stake;
        emit MemberLeft(msg.sender, stake);
        if (stake != 0) {
            (bool ok,) = payable(msg.sender).call{value: stake}("");
            if (!ok) revert StakeTransferFailed(msg.sender, stake);
        }
    }

    /// @inheritdoc IFederationLedger
    function setUnbondingPeriod(uint256 newPeriod) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newPeriod > MAX_UNBONDING_PERIOD) revert UnbondingPeriodTooLong(newPeriod, MAX_UNBONDING_PERIOD);
        emit UnbondingPeriodChanged(unbondingPeriod, newPeriod);
        unbondingPeriod = newPeriod;
    }

    /// @inheritdoc IFederationLedger
    /// @dev Callable by the admin or an evaluator; never more than the stake.
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

    /// @inheritdoc IFederationLedger
    function withdrawSlashed(address payable to, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (amount > slashedBalance) revert WithdrawExceedsSlashed(amount, slashedBalance);
        slashedBalance -= amount;
        emit SlashedFundsWithdrawn(to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert StakeTransferFailed(to, amount);
    }

    /// @inheritdoc IFederationLedger
    function setMinStake(uint256 newMinStake) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit MinStakeChanged(minStake, newMinStake);
        minStake = newMinStake;
    }

    /// @inheritdoc IFederationLedger
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
            openCommitments: m.openCommitments,
            unlockAt: m.unlockAt,
            stakeExempt: m.stakeExempt
        });
    }

    /// @inheritdoc IFederationLedger
    function members() external view returns (address[] memory accounts) {
        return _memberList;
    }

    /// @inheritdoc IFederationLedger
    function stakeTotals()
        external
        view
        returns (uint256 staked, uint256 returned, uint256 slashed, uint256 slashedHeld)
    {
        return (totalStaked, totalReturned, totalSlashed, slashedBalance);
    }

    function _checkNewMember(Member storage m, string calldata name, bytes32 nodeKeyHash) private view {
        MemberStatus status = m.status;
        if (status == MemberStatus.Active || status == MemberStatus.Pending || status == MemberStatus.Leaving) {
            revert AlreadyMember(msg.sender);
        }
        uint256 length = bytes(name).length;
        if (length == 0 || length > MAX_NAME_BYTES) revert InvalidName(length);
        if (nodeKeyHash == bytes32(0)) revert EmptyNodeKeyHash(msg.sender);
    }
}
