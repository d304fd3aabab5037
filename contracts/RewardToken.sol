// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title RewardToken
/// @notice The ERC-20 in which a federation pays contribution rewards. Only holders of
///         MINTER_ROLE (the FederationLedger) can mint; members claim what the ledger owes them.
contract RewardToken is ERC20, AccessControl {
    /// @notice Role allowed to mint new reward tokens.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param admin Account that receives DEFAULT_ADMIN_ROLE and may grant MINTER_ROLE.
    constructor(string memory name_, string memory symbol_, address admin) ERC20(name_, symbol_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Mint `amount` tokens to `to`.
    /// @dev Reverts with AccessControlUnauthorizedAccount unless the caller holds MINTER_ROLE.
    /// @param to Recipient of the new tokens.
    /// @param amount Amount in the token's smallest unit.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
