// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ITaskMarket
/// @notice The dmlnet market: a task owner escrows the whole budget of a training task, miners claim and train
/// units against a bond, verifiers re-execute sampled segments and vote by commit-reveal against a bond, and the
/// majority's verdict pays or slashes. Value sits in exactly four buckets (task escrow, free stake, locked stake,
/// withdrawable credit) and leaves only through {withdraw}.
/// @dev Every state change emits an event right after it, so an auditor can rebuild the whole history from logs.
interface ITaskMarket {
    // ------------------------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------------------------

    /// @notice Lifecycle of a task.
    enum TaskStatus {
        None, // no such task
        Active, // units can be claimed
        Completed, // the aggregation unit of the last round was accepted
        Cancelled // the owner cancelled: no new claims, units in flight finish
    }

    /// @notice Lifecycle of one unit (a training unit, or the aggregation unit at index `unitsPerRound`).
    /// @dev A rejected or expired unit goes back to `Open`; "Rejected" is an event, not a resting state.
    enum UnitStatus {
        Open, // claimable when its round is current (the aggregation unit: once all training units are accepted)
        Claimed, // a miner holds it until its claim deadline
        Submitted, // result recorded; its quorum is drawn from the verifier pool, and the drawn commit votes
        Revealing, // every seat committed; verifiers reveal until all have or the reveal deadline passes
        Accepted, // the verdict "valid" outlived its challenge window: paid, and final
        Decided // a provisional verdict, open to challenge until the deadline; nothing is paid yet
    }

    /// @notice What a task owner fixes at creation. Rewards and bonds in wei, timeouts in seconds.
    /// @param specDigest SHA-256 of the canonical JSON task spec.
    /// @param datasetDigest SHA-256 of the dataset (safetensors with `x` and `y`).
    /// @param initialModelDigest SHA-256 of the initial model (safetensors): the input of round 0.
    /// @param rounds Number of rounds (≥ 1).
    /// @param unitsPerRound Training units per round (≥ 1); the aggregation unit has index `unitsPerRound`.
    /// @param quorum Verifiers voting on each unit; odd.
    /// @param claimTimeout Seconds a miner has from claim to submission.
    /// @param commitTimeout Seconds verifiers have from submission to fill the quorum.
    /// @param revealTimeout Seconds verifiers have to reveal once the quorum is full.
    /// @param minerReward Paid per accepted training unit.
    /// @param aggregatorReward Paid per accepted aggregation unit.
    /// @param verifierReward Paid per vote on the majority side.
    /// @param unitBond Locked from the miner's free stake per claim; slashed on rejection or expiry.
    /// @param voteBond Locked per seat against the verifier's stake (free or not: a draw seats every account whose
    /// stake at risk beyond its own bonds covers one); slashed, as far as that stake goes, when its vote is not the
    /// final verdict (or not revealed). At least 4 × verifierReward, so that an overturned verdict's slashed majority pays
    /// the appeal's quorum and the challenger's reward.
    /// @param challengeWindow Seconds after a verdict during which any staked account may challenge it (0: verdicts
    /// are final at once and nobody can appeal).
    /// @param ownerInLoop The task trains in split mode: every step needs the owner's node, so a claim that expires
    /// may be the owner's silence as well as the miner's. Its bond is then unlocked, not slashed, and the task (the
    /// owner's escrow) bears the cost: the unit is re-opened and paid again from escrow when trained.
    struct TaskParams {
        bytes32 specDigest;
        bytes32 datasetDigest;
        bytes32 initialModelDigest;
        uint32 rounds;
        uint32 unitsPerRound;
        uint32 quorum;
        uint32 claimTimeout;
        uint32 commitTimeout;
        uint32 revealTimeout;
        uint96 minerReward;
        uint96 aggregatorReward;
        uint96 verifierReward;
        uint96 unitBond;
        uint96 voteBond;
        uint32 challengeWindow;
        bool ownerInLoop;
    }

    /// @notice The moving part of a task.
    /// @param owner Who created (and may cancel) the task; receives unspent escrow.
    /// @param status See {TaskStatus}.
    /// @param currentRound The round whose units are claimable.
    /// @param acceptedInRound Training units of the current round accepted so far.
    /// @param openUnits Units of the current round that can be claimed now.
    /// @param inFlight Units claimed, submitted or being voted on.
    /// @param escrow Wei held for this task: budget, plus slashed bonds, minus what was paid.
    /// @param finalModelDigest The accepted global model of the last round (zero until then).
    struct TaskState {
        address owner;
        TaskStatus status;
        uint32 currentRound;
        uint32 acceptedInRound;
        uint32 openUnits;
        uint32 inFlight;
        uint128 escrow;
        bytes32 finalModelDigest;
    }

    /// @notice One unit as a node needs to see it.
    /// @param status See {UnitStatus}.
    /// @param miner The current claimant (zero when Open).
    /// @param deadline Claim deadline (Claimed), commit deadline (Submitted), reveal deadline (Revealing) or the end
    /// of the challenge window (Decided).
    /// @param commits Seats whose vote is committed in the current epoch.
    /// @param reveals Seats whose vote is revealed in the current epoch.
    /// @param validVotes Revealed seats that found the result valid.
    /// @param epoch Voting epoch: grows at every submission, re-opened vote and appeal; ballots are per epoch.
    /// @param rejections How many results of this unit were rejected so far.
    /// @param submittedBlock Block of the last submission: its hash seeds the verifiers' challenges.
    /// @param resultDigest SHA-256 of the submitted manifest (trail or aggregate).
    /// @param modelDigest SHA-256 of the model the result produced (recorded for aggregation units only).
    /// @param seedBlock The block whose hash, once mined, seeds the draw of the current epoch's quorum.
    /// @param seats Seats drawn so far in the current epoch (the quorum at level 0, then 2 · seats + 1 per appeal).
    /// @param level Appeal level of the current epoch: 0 for the first vote on a submission.
    /// @param verdict The provisional verdict while Decided (true: valid).
    struct UnitInfo {
        UnitStatus status;
        address miner;
        uint64 deadline;
        uint8 commits;
        uint8 reveals;
        uint8 validVotes;
        uint32 epoch;
        uint32 rejections;
        uint64 submittedBlock;
        bytes32 resultDigest;
        bytes32 modelDigest;
        uint64 seedBlock;
        uint8 seats;
        uint8 level;
        bool verdict;
    }

    /// @notice One decided level of a unit's vote on its current result.
    /// @param epoch The epoch whose ballots decided this level.
    /// @param verdict What the level decided (true: valid).
    /// @param challenger Who appealed to this level (zero at level 0).
    struct LevelInfo {
        uint32 epoch;
        bool verdict;
        address challenger;
    }

    /// @notice The stake of one account.
    /// @param total All stake held for the account, locked and unbonding included.
    /// @param locked Bonds of claims, challenges and seats in flight (seats may lock more than is free).
    /// @param unbonding Requested to leave; released after `releaseAt`, and still slashable until then.
    /// @param releaseAt Timestamp from which unbonding stake can be released to credit.
    /// @param free What a new claim or challenge can lock: total − locked − unbonding, never below zero.
    /// @param verifying Whether the account is in the verifier pool (see {joinVerifierPool}).
    /// @param poolWeight The account's weight in the verifier pool now: total − unbonding while verifying, else 0.
    /// @param seatLocked The part of `locked` that backs drawn seats (the rest, claims and challenges, is always free
    /// stake the account locked itself). A draw seats the account while total − unbonding − (locked − seatLocked)
    /// covers the task's vote bond.
    struct StakeInfo {
        uint128 total;
        uint128 locked;
        uint128 unbonding;
        uint64 releaseAt;
        uint128 free;
        bool verifying;
        uint256 poolWeight;
        uint128 seatLocked;
    }

    /// @notice One verifier's vote in the current epoch of a unit (the same vote on each of its seats).
    /// @param committed Every one of its seats is committed (a verifier drawn again after committing owes one more).
    /// @param revealed Every one of its seats is revealed.
    /// @param seats How many seats of the current epoch's quorum the verifier holds (0: it was not drawn).
    struct BallotInfo {
        bool committed;
        bool revealed;
        bool valid;
        bytes32 commitment;
        uint8 seats;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------------

    /// @notice A payable call came with no value, or an amount argument was zero.
    error TaskMarketZeroAmount(string field);
    /// @notice The constructor's unbonding delay is outside [MIN_UNBONDING_DELAY, MAX_UNBONDING_DELAY].
    error TaskMarketUnbondingDelayOutOfRange(uint256 delay, uint256 min, uint256 max);
    /// @notice A claim or a challenge needs `needed` wei of free stake and the account has `free`.
    error TaskMarketInsufficientFreeStake(address account, uint256 free, uint256 needed);
    /// @notice An unstake request exceeds the stake not already unbonding.
    error TaskMarketUnstakeTooLarge(address account, uint256 requested, uint256 available);
    /// @notice Nothing is unbonding for this account.
    error TaskMarketNothingUnbonding(address account);
    /// @notice Unbonding stake is released only from `releaseAt`.
    error TaskMarketUnbondingNotDue(address account, uint256 releaseAt, uint256 nowTs);
    /// @notice All of the unbonding stake still backs bonds in flight (`locked`: claims, challenges and seats).
    error TaskMarketUnbondingStakeLocked(address account, uint256 unbonding, uint256 locked);
    /// @notice The account is in the verifier pool already.
    error TaskMarketAlreadyVerifying(address account);
    /// @notice `verifier` declined task `taskId` already.
    error TaskMarketAlreadyDeclined(uint256 taskId, address verifier);
    /// @notice The account is not in the verifier pool.
    error TaskMarketNotVerifying(address account);
    /// @notice The account has no credit to withdraw.
    error TaskMarketNothingToWithdraw(address account);
    /// @notice Sending `amount` wei to `to` failed; its credit is kept.
    error TaskMarketTransferFailed(address to, uint256 amount);
    /// @notice `createTask` must be sent exactly the budget of its parameters.
    error TaskMarketBudgetMismatch(uint256 expected, uint256 sent);
    /// @notice A count parameter is outside its allowed range.
    error TaskMarketParamOutOfRange(string field, uint256 value, uint256 min, uint256 max);
    /// @notice The quorum must be odd so that every full vote has a majority.
    error TaskMarketQuorumEven(uint256 quorum);
    /// @notice A rejection's slashed bond must pay the verifiers of the retry: unitBond ≥ quorum × verifierReward.
    error TaskMarketUnitBondTooSmall(uint256 unitBond, uint256 minimum);
    /// @notice An overturned majority's bonds must pay the appeal: voteBond ≥ 4 × verifierReward.
    error TaskMarketVoteBondTooSmall(uint256 voteBond, uint256 minimum);
    /// @notice Stake must not leave while it can still be slashed: the unbonding delay must exceed a unit's
    /// claim timeout plus a full vote (commit, reveal, challenge window) at every appeal level.
    error TaskMarketUnbondingTooShort(uint256 delay, uint256 needed);
    /// @notice A digest parameter is zero.
    error TaskMarketZeroDigest(string field);
    /// @notice No task has this id.
    error TaskMarketUnknownTask(uint256 taskId);
    /// @notice Only the task owner may do this.
    error TaskMarketNotTaskOwner(uint256 taskId, address caller, address owner);
    /// @notice The task is not in the status this call needs.
    error TaskMarketTaskNotActive(uint256 taskId, TaskStatus status);
    /// @notice Units are claimable only in the task's current round.
    error TaskMarketRoundNotCurrent(uint256 taskId, uint256 round, uint256 currentRound);
    /// @notice Unit indexes run from 0 to `unitsPerRound` (the aggregation unit).
    error TaskMarketUnitIndexOutOfRange(uint256 taskId, uint256 index, uint256 maxIndex);
    /// @notice The last miner whose result on this unit was rejected, or whose claim expired, may claim it again
    /// only from `until` (one claim timeout later), so that other miners get the unit first.
    error TaskMarketClaimCoolingDown(uint256 taskId, uint256 round, uint256 index, address miner, uint256 until);
    /// @notice The unit is not in the status this call needs.
    error TaskMarketUnitWrongStatus(uint256 taskId, uint256 round, uint256 index, UnitStatus status);
    /// @notice The aggregation unit opens once every training unit of its round is accepted.
    error TaskMarketAggregationNotReady(uint256 taskId, uint256 round, uint256 accepted, uint256 needed);
    /// @notice Only the miner holding the claim may submit.
    error TaskMarketNotAssignee(uint256 taskId, uint256 round, uint256 index, address caller, address miner);
    /// @notice The deadline of this phase has passed.
    error TaskMarketDeadlinePassed(uint256 deadline, uint256 nowTs);
    /// @notice The deadline of this phase has not passed yet.
    error TaskMarketDeadlineNotPassed(uint256 deadline, uint256 nowTs);
    /// @notice The caller holds no seat in the unit's current quorum: seats are drawn, not taken.
    error TaskMarketNotSelected(address verifier);
    /// @notice A verifier commits once per epoch, for all of its seats.
    error TaskMarketAlreadyCommitted(address verifier);
    /// @notice Every seat of the unit's current quorum is drawn already.
    error TaskMarketQuorumDrawn(uint256 taskId, uint256 round, uint256 index);
    /// @notice The quorum is drawn from the hash of `seedBlock`, which is not mined yet.
    error TaskMarketSeedNotReady(uint256 seedBlock, uint256 blockNumber);
    /// @notice The verdict is at the last appeal level: it is final.
    error TaskMarketAppealLevelExhausted(uint256 taskId, uint256 round, uint256 index, uint256 level);
    /// @notice The caller has no ballot in this unit's current epoch.
    error TaskMarketNoBallot(address verifier);
    /// @notice The ballot was already revealed.
    error TaskMarketAlreadyRevealed(address verifier);
    /// @notice The revealed vote and salt do not hash to the committed value.
    error TaskMarketCommitmentMismatch(bytes32 committed, bytes32 revealed);
    /// @notice The unit cannot be finalized yet: votes still pending before `deadline`.
    error TaskMarketFinalizeNotDue(uint256 taskId, uint256 round, uint256 index, uint256 deadline);
    /// @notice Unreachable by construction; kept as a guard: a payment exceeded the task's escrow.
    error TaskMarketEscrowExhausted(uint256 taskId, uint256 escrow, uint256 needed);
    /// @notice A round beyond the current one has no input yet.
    error TaskMarketRoundNotReached(uint256 taskId, uint256 round, uint256 currentRound);
    /// @notice A batch named no unit.
    error TaskMarketEmptyBatch();
    /// @notice A batch named more units than one call takes.
    error TaskMarketBatchTooLarge(uint256 size, uint256 max);
    /// @notice A batch's per-unit arrays differ in length from its list of units.
    error TaskMarketBatchLengthMismatch(uint256 units, uint256 values);

    // ------------------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------------------

    /// @notice `amount` wei was added to `account`'s stake.
    event StakeDeposited(address indexed account, uint256 amount, uint256 total);
    /// @notice `amount` more wei of stake started unbonding; all unbonding stake is released from `releaseAt`.
    event UnstakeRequested(address indexed account, uint256 amount, uint256 unbonding, uint256 releaseAt);
    /// @notice `account` joined the verifier pool with `weight` (its stake at risk).
    event VerifierJoined(address indexed account, uint256 weight);
    /// @notice `account` left the verifier pool: it is drawn for no quorum whose randomness comes later.
    event VerifierLeft(address indexed account);
    /// @notice `verifier` declined task `taskId`: no draw of the task's quorums seats it from now on.
    event VerifierDeclined(uint256 indexed taskId, address indexed verifier);
    /// @notice Unbonding stake was moved to the account's credit.
    event StakeReleased(address indexed account, uint256 amount);
    /// @notice A bond was slashed from `account`'s stake into the escrow of `taskId`.
    event StakeSlashed(
        address indexed account, uint256 indexed taskId, uint32 round, uint32 index, uint256 amount, uint256 unbonding
    );
    /// @notice `amount` wei was credited to `account` from the escrow of `taskId` (a reward, or the owner's refund).
    event Credited(address indexed account, uint256 indexed taskId, uint256 amount);
    /// @notice `account` pulled `amount` wei of credit.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice A task was created with its whole budget escrowed.
    event TaskCreated(uint256 indexed taskId, address indexed owner, TaskParams params, uint256 budget);
    /// @notice The owner cancelled the task; `inFlight` units will still finish.
    event TaskCancelled(uint256 indexed taskId, uint256 inFlight);
    /// @notice The aggregation unit of the last round was accepted.
    event TaskCompleted(uint256 indexed taskId, bytes32 finalModelDigest);
    /// @notice The unspent escrow of a finished task was credited to its owner.
    event EscrowRefunded(uint256 indexed taskId, address indexed owner, uint256 amount);
    /// @notice The previous round's aggregate was accepted; `round` is now current with input `inputModelDigest`.
    event RoundAdvanced(uint256 indexed taskId, uint32 round, bytes32 inputModelDigest);

    /// @notice `miner` claimed a unit until `deadline`, locking `bond`.
    event UnitClaimed(
        uint256 indexed taskId, uint32 round, uint32 index, address indexed miner, uint64 deadline, uint256 bond
    );
    /// @notice `miner` submitted a result; the vote of `epoch` is open until `commitDeadline`.
    event ResultSubmitted(
        uint256 indexed taskId,
        uint32 round,
        uint32 index,
        address indexed miner,
        bytes32 resultDigest,
        bytes32 modelDigest,
        uint32 epoch,
        uint64 commitDeadline
    );
    /// @notice The claim passed its deadline without a result and the unit re-opened; the miner's bond was slashed
    /// into escrow (`slashed` wei), or unlocked (`slashed` = 0) in a task with the owner in the loop.
    event UnitExpired(uint256 indexed taskId, uint32 round, uint32 index, address indexed miner, uint256 slashed);
    /// @notice `verifier` was drawn into seat `seat` of the quorum of `epoch`, locking one vote bond for it.
    event VerifierDrawn(
        uint256 indexed taskId, uint32 round, uint32 index, address indexed verifier, uint32 epoch, uint8 seat
    );
    /// @notice Every seat of the quorum of `epoch` (appeal level `level`) is drawn; commits are open until
    /// `commitDeadline`.
    event QuorumDrawn(uint256 indexed taskId, uint32 round, uint32 index, uint32 epoch, uint8 level, uint64 commitDeadline);
    /// @notice The old seed could seat nobody: its block hash was out of reach (over 256 blocks old), or the pool
    /// held no stake at its snapshot. The quorum of `epoch` is now drawn from the hash of `seedBlock`.
    event QuorumSeedRetargeted(uint256 indexed taskId, uint32 round, uint32 index, uint32 epoch, uint64 seedBlock);
    /// @notice `verifier` did not commit in time: its seat was released (its bond unlocked) and is drawn again.
    event VerifierReplaced(uint256 indexed taskId, uint32 round, uint32 index, address indexed verifier, uint32 epoch);
    /// @notice `verifier` committed one vote for its `seats` seats.
    event VoteCommitted(
        uint256 indexed taskId,
        uint32 round,
        uint32 index,
        address indexed verifier,
        uint32 epoch,
        bytes32 commitment,
        uint8 seats
    );
    /// @notice The quorum is full: reveals are open until `revealDeadline`.
    event RevealOpened(uint256 indexed taskId, uint32 round, uint32 index, uint32 epoch, uint64 revealDeadline);
    /// @notice `verifier` revealed its vote for its `seats` seats.
    event VoteRevealed(
        uint256 indexed taskId, uint32 round, uint32 index, address indexed verifier, uint32 epoch, bool valid, uint8 seats
    );
    /// @notice Appeal level `level` decided `valid`; nothing is paid before `challengeDeadline`, until which any
    /// staked account may challenge (a final level settles at once).
    event VerdictReached(
        uint256 indexed taskId,
        uint32 round,
        uint32 index,
        uint8 level,
        bool valid,
        uint8 validVotes,
        uint8 invalidVotes,
        uint64 challengeDeadline
    );
    /// @notice `challenger` appealed the verdict, locking `bond`: a fresh quorum of level `level` is drawn for `epoch`.
    event VerdictChallenged(
        uint256 indexed taskId,
        uint32 round,
        uint32 index,
        address indexed challenger,
        uint8 level,
        uint32 epoch,
        uint256 bond
    );
    /// @notice The appeal to `level` was settled: `upheld` if the verdict it challenged was overturned in the end
    /// (its bond came back with `reward`), otherwise its bond was slashed into the task's escrow.
    event ChallengeSettled(
        uint256 indexed taskId,
        uint32 round,
        uint32 index,
        address indexed challenger,
        uint8 level,
        bool upheld,
        uint256 reward
    );
    /// @notice The majority found the result valid; the miner was paid.
    event UnitAccepted(
        uint256 indexed taskId,
        uint32 round,
        uint32 index,
        address indexed miner,
        bytes32 resultDigest,
        uint8 validVotes,
        uint8 invalidVotes
    );
    /// @notice The majority found the result invalid; the miner's bond was slashed and the unit re-opened.
    event UnitRejected(
        uint256 indexed taskId,
        uint32 round,
        uint32 index,
        address indexed miner,
        bytes32 resultDigest,
        uint8 validVotes,
        uint8 invalidVotes
    );
    /// @notice The vote ended with no verdict (no reveal, or a tie left by non-revealers); a new quorum is drawn
    /// for `epoch` at the same appeal level.
    event VoteReopened(uint256 indexed taskId, uint32 round, uint32 index, uint32 epoch, uint64 commitDeadline);

    // ------------------------------------------------------------------------------------------------------------
    // Staking and credit
    // ------------------------------------------------------------------------------------------------------------

    /// @notice Adds `msg.value` to the caller's stake.
    function stake() external payable;

    /// @notice Starts unbonding `amount` of the caller's stake; it can be released after the unbonding delay and
    /// stays slashable until then. A new request restarts the delay for everything unbonding.
    function requestUnstake(uint256 amount) external;

    /// @notice Moves unbonding stake whose delay has passed, and that no bond in flight needs, to the caller's credit.
    function releaseUnstaked() external;

    /// @notice Sends the caller all of its credit.
    function withdraw() external;

    /// @notice Puts the caller in the verifier pool: from the next block on it can be drawn for quorums, weighted
    /// by its stake at risk (total − unbonding), which the pool follows through every stake change.
    function joinVerifierPool() external;

    /// @notice Takes the caller out of the verifier pool; draws whose randomness was fixed earlier still see it.
    function leaveVerifierPool() external;

    /// @notice Takes the caller out of every later draw of task `taskId`'s quorums, for good (a verifier that cannot
    /// re-execute the task's units within its commit window says so before it is seated, instead of holding seats
    /// it would leave empty). Seats it holds already stay; a draw that picks it is skipped, as one that picks the
    /// miner is: it removes only the caller, so it cannot steer who else is drawn.
    function declineTask(uint256 taskId) external;

    // ------------------------------------------------------------------------------------------------------------
    // Tasks and units
    // ------------------------------------------------------------------------------------------------------------

    /// @notice Creates a task, escrowing exactly {budgetOf}(`params`) sent as value.
    /// @return taskId The new task's id (ids start at 1).
    function createTask(TaskParams calldata params) external payable returns (uint256 taskId);

    /// @notice Cancels a task: no new claims; units in flight finish and are paid; the rest goes back to the owner.
    function cancelTask(uint256 taskId) external;

    /// @notice Claims open units of the current round, locking `unitBond` of the caller's free stake per unit.
    /// @dev Every call that takes `indices` is a batch over units of one task and round (1 to 256 of them): it does
    /// for each unit, in order, what the call does for one, and reverts whole when any unit's step would (with that
    /// unit's error), so that a batch of one is the single-unit call. Each unit emits its own events.
    function claimUnits(uint256 taskId, uint32 round, uint32[] calldata indices) external;

    /// @notice Records the claimant's results before their claim deadlines and opens their votes.
    /// @param resultDigests SHA-256 of each unit's manifest (a trail manifest, or the aggregate manifest for the
    /// aggregation unit).
    /// @param modelDigests SHA-256 of the model each result produced (the new global model for the aggregation unit).
    function submitResults(
        uint256 taskId,
        uint32 round,
        uint32[] calldata indices,
        bytes32[] calldata resultDigests,
        bytes32[] calldata modelDigests
    ) external;

    /// @notice Claims an open unit of the current round and submits its result in one call, for a result computed
    /// before the claim: the aggregation unit, whose aggregate follows from the round's accepted results alone.
    /// @dev Does what {claimUnits} then {submitResults} do for that one unit, with their errors and events.
    function claimAndSubmit(uint256 taskId, uint32 round, uint32 index, bytes32 resultDigest, bytes32 modelDigest)
        external;

    /// @notice Re-opens a claimed unit whose claim deadline has passed, slashing the claimant's bond into escrow
    /// (unlocking it instead in a task with `ownerInLoop`: its owner's node may be the one that went silent).
    function reclaimExpired(uint256 taskId, uint32 round, uint32 index) external;

    /// @notice Draws the quorum of a submitted unit's current epoch from the verifier pool, weighted by stake as it
    /// stood before the seed block, with the seed block's hash (known only after the submission) bound to the task,
    /// unit, result, epoch and level. Locks a vote bond per seat. Anyone may call it once the seed block is mined;
    /// seats that cannot be filled yet (bounded tries) are drawn by a later call. A batch (see {claimUnits}).
    function drawVerifiers(uint256 taskId, uint32 round, uint32[] calldata indices) external;

    /// @notice Commits the caller's votes, one per unit: `commitments[i]` is
    /// `keccak256(abi.encode(taskId, round, indices[i], verifier, valid, salt))` for every seat the caller was drawn
    /// into on that unit; when every seat of a unit has committed, its reveals open. A batch (see {claimUnits}).
    /// @dev A commitment per unit, each under its own salt, rather than one over the batch: units reach their
    /// reveals at different times, and revealing one unit's vote must tell nothing of another's still being
    /// committed.
    function commitVotes(uint256 taskId, uint32 round, uint32[] calldata indices, bytes32[] calldata commitments)
        external;

    /// @notice Reveals committed votes: bit i of `validBits` is the vote on `indices[i]`, `salts[i]` its salt. The
    /// last reveal of a unit decides its level at once. A batch (see {claimUnits}).
    function revealVotes(
        uint256 taskId,
        uint32 round,
        uint32[] calldata indices,
        uint256 validBits,
        bytes32[] calldata salts
    ) external;

    /// @notice Appeals a provisional verdict before its challenge deadline, locking
    /// `seatsAt(quorum, level + 1) × verifierReward` of the caller's free stake: a fresh, larger quorum is drawn from
    /// the whole pool, with replacement, excluding only the unit's miner.
    function challengeVerdict(uint256 taskId, uint32 round, uint32 index) external;

    /// @notice Moves a unit on once its deadline passed: releases and re-draws seats that did not commit
    /// (Submitted, at every level: an appeal never lapses), decides from the reveals made (Revealing), or settles
    /// the final verdict (Decided). Anyone may call it.
    function finalizeUnit(uint256 taskId, uint32 round, uint32 index) external;

    // ------------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------------

    /// @notice An account's stake.
    function stakeOf(address account) external view returns (StakeInfo memory);

    /// @notice An account's withdrawable credit.
    function creditOf(address account) external view returns (uint256);

    /// @notice What the contract owes in all: Σ escrow + Σ stake + Σ credit. Its balance is never below it.
    function totalOwed() external view returns (uint256);

    /// @notice The {IVerifierPool} that quorums are drawn from (created with this contract).
    function verifierPool() external view returns (address);

    /// @notice Seconds between an unstake request and the release of the stake.
    function unbondingDelay() external view returns (uint256);
}
