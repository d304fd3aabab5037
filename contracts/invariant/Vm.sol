// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IVm
/// @notice The few Foundry cheatcodes the invariant harness uses (forge-std is not vendored).
interface IVm {
    /// @notice Make the next call come from `sender`.
    /// @param sender The caller to impersonate.
    function prank(address sender) external;

    /// @notice Set the ETH balance of `account`.
    /// @param account The account.
    /// @param newBalance Its new balance in wei.
    function deal(address account, uint256 newBalance) external;

    /// @notice Set block.timestamp.
    /// @param newTimestamp The new time.
    function warp(uint256 newTimestamp) external;
}

/// @dev The cheatcode address: address(uint160(uint256(keccak256("hevm cheat code")))).
IVm constant VM = IVm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
