"""Valuing contributions, paying rewards, and the on-chain incentive ledger (no fl_node imports)."""
