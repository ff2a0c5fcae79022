"""Python twins of the TaskMarket custom errors, one class each, generated from the ABI.

Regenerate with ``python -m node.chain.reverts_codegen`` after the interface changes; a unit test fails when this
file and the ABI disagree. A revert surfaces as the class of its Solidity error, carrying its arguments by name.
"""

from __future__ import annotations

from node.errors import ContractRevert


class ReentrancyGuardReentrantCall(ContractRevert):
    error_name = "ReentrancyGuardReentrantCall"
    fields = ()


class SafeCastOverflowedUintDowncast(ContractRevert):
    error_name = "SafeCastOverflowedUintDowncast"
    fields = ("bits", "value")


class TaskMarketAggregationNotReady(ContractRevert):
    error_name = "TaskMarketAggregationNotReady"
    fields = ("taskId", "round", "accepted", "needed")


class TaskMarketAlreadyCommitted(ContractRevert):
    error_name = "TaskMarketAlreadyCommitted"
    fields = ("verifier",)


class TaskMarketAlreadyDeclined(ContractRevert):
    error_name = "TaskMarketAlreadyDeclined"
    fields = ("taskId", "verifier")


class TaskMarketAlreadyRevealed(ContractRevert):
    error_name = "TaskMarketAlreadyRevealed"
    fields = ("verifier",)


class TaskMarketAlreadyVerifying(ContractRevert):
    error_name = "TaskMarketAlreadyVerifying"
    fields = ("account",)


class TaskMarketAppealLevelExhausted(ContractRevert):
    error_name = "TaskMarketAppealLevelExhausted"
    fields = ("taskId", "round", "index", "level")


class TaskMarketBatchLengthMismatch(ContractRevert):
    error_name = "TaskMarketBatchLengthMismatch"
    fields = ("units", "values")


class TaskMarketBatchTooLarge(ContractRevert):
    error_name = "TaskMarketBatchTooLarge"
    fields = ("size", "max")


class TaskMarketBudgetMismatch(ContractRevert):
    error_name = "TaskMarketBudgetMismatch"
    fields = ("expected", "sent")


class TaskMarketClaimCoolingDown(ContractRevert):
    error_name = "TaskMarketClaimCoolingDown"
    fields = ("taskId", "round", "index", "miner", "until")


class TaskMarketCommitmentMismatch(ContractRevert):
    error_name = "TaskMarketCommitmentMismatch"
    fields = ("committed", "revealed")


class TaskMarketDeadlineNotPassed(ContractRevert):
    error_name = "TaskMarketDeadlineNotPassed"
    fields = ("deadline", "nowTs")


class TaskMarketDeadlinePassed(ContractRevert):
    error_name = "TaskMarketDeadlinePassed"
    fields = ("deadline", "nowTs")


class TaskMarketEmptyBatch(ContractRevert):
    error_name = "TaskMarketEmptyBatch"
    fields = ()


class TaskMarketEscrowExhausted(ContractRevert):
    error_name = "TaskMarketEscrowExhausted"
    fields = ("taskId", "escrow", "needed")


class TaskMarketFinalizeNotDue(ContractRevert):
    error_name = "TaskMarketFinalizeNotDue"
    fields = ("taskId", "round", "index", "deadline")


class TaskMarketInsufficientFreeStake(ContractRevert):
    error_name = "TaskMarketInsufficientFreeStake"
    fields = ("account", "free", "needed")


class TaskMarketNoBallot(ContractRevert):
    error_name = "TaskMarketNoBallot"
    fields = ("verifier",)


class TaskMarketNotAssignee(ContractRevert):
    error_name = "TaskMarketNotAssignee"
    fields = ("taskId", "round", "index", "caller", "miner")


class TaskMarketNotSelected(ContractRevert):
    error_name = "TaskMarketNotSelected"
    fields = ("verifier",)


class TaskMarketNotTaskOwner(ContractRevert):
    error_name = "TaskMarketNotTaskOwner"
    fields = ("taskId", "caller", "owner")


class TaskMarketNotVerifying(ContractRevert):
    error_name = "TaskMarketNotVerifying"
    fields = ("account",)


class TaskMarketNothingToWithdraw(ContractRevert):
    error_name = "TaskMarketNothingToWithdraw"
    fields = ("account",)


class TaskMarketNothingUnbonding(ContractRevert):
    error_name = "TaskMarketNothingUnbonding"
    fields = ("account",)


class TaskMarketParamOutOfRange(ContractRevert):
    error_name = "TaskMarketParamOutOfRange"
    fields = ("field", "value", "min", "max")


class TaskMarketQuorumDrawn(ContractRevert):
    error_name = "TaskMarketQuorumDrawn"
    fields = ("taskId", "round", "index")


class TaskMarketQuorumEven(ContractRevert):
    error_name = "TaskMarketQuorumEven"
    fields = ("quorum",)


class TaskMarketRoundNotCurrent(ContractRevert):
    error_name = "TaskMarketRoundNotCurrent"
    fields = ("taskId", "round", "currentRound")


class TaskMarketRoundNotReached(ContractRevert):
    error_name = "TaskMarketRoundNotReached"
    fields = ("taskId", "round", "currentRound")


class TaskMarketSeedNotReady(ContractRevert):
    error_name = "TaskMarketSeedNotReady"
    fields = ("seedBlock", "blockNumber")


class TaskMarketTaskNotActive(ContractRevert):
    error_name = "TaskMarketTaskNotActive"
    fields = ("taskId", "status")


class TaskMarketTransferFailed(ContractRevert):
    error_name = "TaskMarketTransferFailed"
    fields = ("to", "amount")


class TaskMarketUnbondingDelayOutOfRange(ContractRevert):
    error_name = "TaskMarketUnbondingDelayOutOfRange"
    fields = ("delay", "min", "max")


class TaskMarketUnbondingNotDue(ContractRevert):
    error_name = "TaskMarketUnbondingNotDue"
    fields = ("account", "releaseAt", "nowTs")


class TaskMarketUnbondingStakeLocked(ContractRevert):
    error_name = "TaskMarketUnbondingStakeLocked"
    fields = ("account", "unbonding", "locked")


class TaskMarketUnbondingTooShort(ContractRevert):
    error_name = "TaskMarketUnbondingTooShort"
    fields = ("delay", "needed")


class TaskMarketUnitBondTooSmall(ContractRevert):
    error_name = "TaskMarketUnitBondTooSmall"
    fields = ("unitBond", "minimum")


class TaskMarketUnitIndexOutOfRange(ContractRevert):
    error_name = "TaskMarketUnitIndexOutOfRange"
    fields = ("taskId", "index", "maxIndex")


class TaskMarketUnitWrongStatus(ContractRevert):
    error_name = "TaskMarketUnitWrongStatus"
    fields = ("taskId", "round", "index", "status")


class TaskMarketUnknownTask(ContractRevert):
    error_name = "TaskMarketUnknownTask"
    fields = ("taskId",)


class TaskMarketUnstakeTooLarge(ContractRevert):
    error_name = "TaskMarketUnstakeTooLarge"
    fields = ("account", "requested", "available")


class TaskMarketVoteBondTooSmall(ContractRevert):
    error_name = "TaskMarketVoteBondTooSmall"
    fields = ("voteBond", "minimum")


class TaskMarketZeroAmount(ContractRevert):
    error_name = "TaskMarketZeroAmount"
    fields = ("field",)


class TaskMarketZeroDigest(ContractRevert):
    error_name = "TaskMarketZeroDigest"
    fields = ("field",)


ALL: dict[str, type[ContractRevert]] = {
    "ReentrancyGuardReentrantCall": ReentrancyGuardReentrantCall,
    "SafeCastOverflowedUintDowncast": SafeCastOverflowedUintDowncast,
    "TaskMarketAggregationNotReady": TaskMarketAggregationNotReady,
    "TaskMarketAlreadyCommitted": TaskMarketAlreadyCommitted,
    "TaskMarketAlreadyDeclined": TaskMarketAlreadyDeclined,
    "TaskMarketAlreadyRevealed": TaskMarketAlreadyRevealed,
    "TaskMarketAlreadyVerifying": TaskMarketAlreadyVerifying,
    "TaskMarketAppealLevelExhausted": TaskMarketAppealLevelExhausted,
    "TaskMarketBatchLengthMismatch": TaskMarketBatchLengthMismatch,
    "TaskMarketBatchTooLarge": TaskMarketBatchTooLarge,
    "TaskMarketBudgetMismatch": TaskMarketBudgetMismatch,
    "TaskMarketClaimCoolingDown": TaskMarketClaimCoolingDown,
    "TaskMarketCommitmentMismatch": TaskMarketCommitmentMismatch,
    "TaskMarketDeadlineNotPassed": TaskMarketDeadlineNotPassed,
    "TaskMarketDeadlinePassed": TaskMarketDeadlinePassed,
    "TaskMarketEmptyBatch": TaskMarketEmptyBatch,
    "TaskMarketEscrowExhausted": TaskMarketEscrowExhausted,
    "TaskMarketFinalizeNotDue": TaskMarketFinalizeNotDue,
    "TaskMarketInsufficientFreeStake": TaskMarketInsufficientFreeStake,
    "TaskMarketNoBallot": TaskMarketNoBallot,
    "TaskMarketNotAssignee": TaskMarketNotAssignee,
    "TaskMarketNotSelected": TaskMarketNotSelected,
    "TaskMarketNotTaskOwner": TaskMarketNotTaskOwner,
    "TaskMarketNotVerifying": TaskMarketNotVerifying,
    "TaskMarketNothingToWithdraw": TaskMarketNothingToWithdraw,
    "TaskMarketNothingUnbonding": TaskMarketNothingUnbonding,
    "TaskMarketParamOutOfRange": TaskMarketParamOutOfRange,
    "TaskMarketQuorumDrawn": TaskMarketQuorumDrawn,
    "TaskMarketQuorumEven": TaskMarketQuorumEven,
    "TaskMarketRoundNotCurrent": TaskMarketRoundNotCurrent,
    "TaskMarketRoundNotReached": TaskMarketRoundNotReached,
    "TaskMarketSeedNotReady": TaskMarketSeedNotReady,
    "TaskMarketTaskNotActive": TaskMarketTaskNotActive,
    "TaskMarketTransferFailed": TaskMarketTransferFailed,
    "TaskMarketUnbondingDelayOutOfRange": TaskMarketUnbondingDelayOutOfRange,
    "TaskMarketUnbondingNotDue": TaskMarketUnbondingNotDue,
    "TaskMarketUnbondingStakeLocked": TaskMarketUnbondingStakeLocked,
    "TaskMarketUnbondingTooShort": TaskMarketUnbondingTooShort,
    "TaskMarketUnitBondTooSmall": TaskMarketUnitBondTooSmall,
    "TaskMarketUnitIndexOutOfRange": TaskMarketUnitIndexOutOfRange,
    "TaskMarketUnitWrongStatus": TaskMarketUnitWrongStatus,
    "TaskMarketUnknownTask": TaskMarketUnknownTask,
    "TaskMarketUnstakeTooLarge": TaskMarketUnstakeTooLarge,
    "TaskMarketVoteBondTooSmall": TaskMarketVoteBondTooSmall,
    "TaskMarketZeroAmount": TaskMarketZeroAmount,
    "TaskMarketZeroDigest": TaskMarketZeroDigest,
}
