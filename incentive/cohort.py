"""The ledger's cohort rules as constants (mirrors ``Rounds.MIN_COHORT`` and ``Rounds.MIN_PARTIES``).

Kept free of imports so that command-line defaults can use them without loading web3.
"""

#: Least minimum cohort of a task: a round with fewer included participants is never finalized,
#: because each participant could subtract its own update from the published model and read the others'.
MIN_COHORT = 3

#: Least number of parties of a party task (vertical FL, transfer learning: each party keeps its model share).
MIN_PARTIES = 2
