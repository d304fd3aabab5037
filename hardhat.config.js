// Hardhat 3 compiles contracts/ offline with the repository's solc shim (no compiler download).
import { fileURLToPath } from "node:url";

const solcShim = fileURLToPath(new URL("./contracts/bin/solc", import.meta.url));

export default {
  solidity: {
    version: "0.8.28",
    path: solcShim,
    // Keep in step with SETTINGS in incentive/solidity.py (the Python compile the tests deploy).
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 20000 },
    },
  },
  paths: {
    sources: "./contracts",
  },
};
