// Hardhat 3's node (EDR) as the tests run it: `hardhat --config tools/hardhat/hardhat.config.mjs node`.
// Anvil's chain id and development accounts on the network `hardhat node` runs ("node" in Hardhat 3.18); the
// number of accounts from DMLNET_HARDHAT_ACCOUNTS (default 20). What Hardhat writes (its artifacts and cache
// folders) goes under DMLNET_HARDHAT_DIR, never into the checkout.
const scratch = process.env.DMLNET_HARDHAT_DIR ?? "/tmp/dmlnet-hardhat";

export default {
  paths: { artifacts: `${scratch}/artifacts`, cache: `${scratch}/cache` },
  networks: {
    node: {
      type: "edr-simulated",
      chainType: "l1",
      chainId: 31337,
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: Number(process.env.DMLNET_HARDHAT_ACCOUNTS ?? "20"),
      },
    },
  },
};
