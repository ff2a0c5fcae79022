// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Staking} from "./Staking.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";
import {IVerifierPool} from "./interfaces/IVerifierPool.sol";

/// @title Quorums
/// @notice Who judges a result, and how: a quorum drawn by chance from the stake-weighted verifier pool after the
/// submission, commit-reveal votes per seat, provisional verdicts open to challenge, and appeals to fresh, larger
/// quorums. Committing first gains nothing (seats are drawn, not taken); splitting stake over accounts gains nothing:
/// every seat of every level is one stake-weighted draw, with replacement, from the whole pool as it stood before
/// the seed (an appeal excludes nobody but the miner, as Kleros draws appeal jurors from the whole court), and a
/// seat locks its bond whatever else the account is seated for, so no draw can be steered by locking others' stake.
/// An appeal never lapses: its no-shows are drawn again until it is seated, so staying away decides nothing.
/// @dev Loops run over one unit's seats only: at most seatsAt(MAX_QUORUM, MAX_APPEAL_LEVEL) per level.
abstract contract Quorums is Staking {
    // Slither's reentrancy findings below point at the external calls every slash, unlock and draw makes to our
    // own VerifierPool (created by Staking's constructor, immutable, no callback into us): nothing re-enters
    // through it. (Its draw is not `view`: it keeps tree nodes in its own transient storage, nothing of ours.)
    /// @dev Draws tried per empty seat in one call: bounds gas when much of the pool is excluded or fully bonded.
    uint256 private constant DRAW_TRIES_PER_SEAT = 4;

    // ------------------------------------------------------------------------------------------------------------
    // Draw, commit, reveal, challenge
    // ------------------------------------------------------------------------------------------------------------

    /// @inheritdoc ITaskMarket
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events (the pool's draw: see above)
    function drawVerifiers(uint256 taskId, uint32 round, uint32[] calldata indices) external {
        Task storage t = _existingTask(taskId);
        uint256 n = _batch(indices.length, indices.length);
        for (uint256 i; i < n; ++i) {
            uint32 index = indices[i];
            Unit storage u = _unitWith(taskId, round, index, UnitStatus.Submitted);
            if (u.seats >= _seats(t.params.quorum, u.level)) revert TaskMarketQuorumDrawn(taskId, round, index);
            if (block.number <= u.seedBlock) revert TaskMarketSeedNotReady(u.seedBlock, block.number);
            _drawSeats(taskId, t, u, _unitKey(round, index));
        }
    }

    /// @inheritdoc ITaskMarket
    function commitVotes(uint256 taskId, uint32 round, uint32[] calldata indices, bytes32[] calldata commitments)
        external
    {
        Task storage t = _existingTask(taskId);
        uint256 n = _batch(indices.length, commitments.length);
        for (uint256 i; i < n; ++i) {
            _commitVote(taskId, t, round, indices[i], commitments[i]);
        }
    }

    function _commitVote(uint256 taskId, Task storage t, uint32 round, uint32 index, bytes32 commitment) private {
        Unit storage u = _unitWith(taskId, round, index, UnitStatus.Submitted);
        if (block.timestamp > u.deadline) revert TaskMarketDeadlinePassed(u.deadline, block.timestamp);
        if (commitment == bytes32(0)) revert TaskMarketZeroDigest("commitment");
        uint32 epoch = u.epoch;
        (uint8 mine, bool held) = _commitSeats(taskId, index, u.level, u.seats, commitment);
        if (mine == 0) {
            if (held) revert TaskMarketAlreadyCommitted(msg.sender);
            revert TaskMarketNotSelected(msg.sender);
        }
        // commits + mine ≤ seats ≤ 255: every committed seat is a distinct drawn seat.
        uint8 commits;
        unchecked {
            commits = u.commits + mine;
        }
        u.commits = commits;
        emit VoteCommitted(taskId, round, index, msg.sender, epoch, commitment, mine);
        if (commits == _seats(t.params.quorum, u.level)) {
            uint64 revealDeadline = uint64(block.timestamp) + t.params.revealTimeout;
            u.status = UnitStatus.Revealing;
            // forge-lint: disable-next-line(unsafe-typecast)
            u.deadline = uint40(revealDeadline); // block time + at most MAX_TIMEOUT: far below 2^40 s
            emit RevealOpened(taskId, round, index, epoch, revealDeadline);
        }
    }

    /// @inheritdoc ITaskMarket
    function revealVotes(
        uint256 taskId,
        uint32 round,
        uint32[] calldata indices,
        uint256 validBits,
        bytes32[] calldata salts
    ) external {
        Task storage t = _existingTask(taskId);
        uint256 n = _batch(indices.length, salts.length);
        for (uint256 i; i < n; ++i) {
            _revealVote(taskId, t, round, indices[i], (validBits >> i) & 1 == 1, salts[i]);
        }
    }

    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events (the pool: see above)
    function _revealVote(uint256 taskId, Task storage t, uint32 round, uint32 index, bool valid, bytes32 salt)
        private
    {
        Unit storage u = _unitWith(taskId, round, index, UnitStatus.Revealing);
        if (block.timestamp > u.deadline) revert TaskMarketDeadlinePassed(u.deadline, block.timestamp);
        bytes32 expected = _commitment(taskId, round, index, msg.sender, valid, salt);
        uint32 epoch = u.epoch;
        (uint8 mine, bool held) = _revealSeats(taskId, index, u.level, u.seats, expected, valid);
        if (!held) revert TaskMarketNoBallot(msg.sender);
        if (mine == 0) revert TaskMarketAlreadyRevealed(msg.sender);
        // reveals + mine ≤ commits ≤ seats ≤ 255, and validVotes ≤ reveals.
        unchecked {
            u.reveals += mine;
            if (valid) u.validVotes += mine;
        }
        emit VoteRevealed(taskId, round, index, msg.sender, epoch, valid, mine);
        // The last reveal decides at once: nothing is left to wait for, and it saves everyone a transaction.
        if (u.reveals == u.commits) _decide(taskId, t, u, _unitKey(round, index));
    }

    /// @inheritdoc ITaskMarket
    function challengeVerdict(uint256 taskId, uint32 round, uint32 index) external {
        Task storage t = _existingTask(taskId);
        uint256 key = _unitKey(round, index);
        Unit storage u = _unitWith(taskId, round, index, UnitStatus.Decided);
        if (block.timestamp > u.deadline) revert TaskMarketDeadlinePassed(u.deadline, block.timestamp);
        uint8 level = u.level;
        // Unreachable by construction (a final level settles at once); kept as a guard.
        if (level >= MAX_APPEAL_LEVEL) revert TaskMarketAppealLevelExhausted(taskId, round, index, level);
        uint8 next = level + 1;
        uint256 bond = uint256(_seats(t.params.quorum, next)) * t.params.verifierReward;
        _lockBond(msg.sender, bond);
        Level[5] storage levels = _levels[taskId][index];
        if (level == 0) {
            // Level 0 is written down only once appealed: an unappealed vote (the usual case) settles from the
            // unit itself, and saves every unit a fresh storage slot.
            levels[0].epoch = u.epoch;
            levels[0].verdict = u.verdict;
        }
        levels[next].challenger = msg.sender;
        uint32 epoch = _startVote(t, u, taskId, key, next);
        emit VerdictChallenged(taskId, round, index, msg.sender, next, epoch, bond);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------------------

    /// @dev Settles a final verdict: the vote's seats and challengers here, the miner and the task in TaskMarket.
    function _settleVerdict(uint256 taskId, Task storage t, Unit storage u, uint256 key, bool verdict)
        internal
        virtual;

    /// @dev A fresh epoch at appeal `level`: no seats, drawn from the hash of this block once it is mined.
    function _startVote(Task storage t, Unit storage u, uint256 taskId, uint256 key, uint8 level)
        internal
        returns (uint32 epoch)
    {
        epoch = u.epoch + 1;
        u.epoch = epoch;
        u.status = UnitStatus.Submitted;
        // forge-lint: disable-next-line(unsafe-typecast)
        u.deadline = uint40(block.timestamp + t.params.commitTimeout); // far below 2^40 s
        u.commits = 0;
        u.reveals = 0;
        u.validVotes = 0;
        u.seats = 0;
        u.drawNonce = 0;
        u.level = level;
        u.seedBlock = uint64(block.number);
        // level 0: see challengeVerdict
        // forge-lint: disable-next-line(unsafe-typecast)
        if (level != 0) _levels[taskId][uint32(key)][level].epoch = epoch; // the index half of the key
    }

    /// @dev Fills the epoch's empty seats from the pool as it stood before the seed block, in a sequence of draws
    /// fixed by the seed: who abstains or is skipped cannot pick who comes next, and stake moved after the seed
    /// block counts for nothing here.
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events (the pool's draw: see above)
    function _drawSeats(uint256 taskId, Task storage t, Unit storage u, uint256 key) internal {
        bytes32 seedHash = _seedHash(u.seedBlock);
        if (seedHash == bytes32(0)) {
            // Over 256 blocks old: nobody drew in time, so nobody chose this; draw from a block still to come.
            u.seedBlock = uint64(block.number);
            (uint32 round, uint32 index) = _roundIndex(key);
            emit QuorumSeedRetargeted(taskId, round, index, u.epoch, uint64(block.number));
            return;
        }
        Draw memory d = Draw({
            taskId: taskId,
            key: key,
            epoch: u.epoch,
            level: u.level,
            seed: keccak256(abi.encode(seedHash, taskId, key, u.resultDigest, u.epoch, u.level)),
            poolBlock: u.seedBlock - 1,
            bond: t.params.voteBond,
            miner: u.miner,
            needed: _seats(t.params.quorum, u.level)
        });
        (uint8 seats, uint32 nonce, bool emptyPool) = _fillSeats(d, u.seats, u.drawNonce);
        if (emptyPool) {
            // Nobody was in the pool before the unit was submitted (a new network, a verifier still starting):
            // waiting out the commit window would redraw from the pool as it stands then, so draw from it now,
            // from a seed still to come. This opens nothing that window's redraw does not open anyway.
            u.seedBlock = uint64(block.number);
            (uint32 round, uint32 index) = _roundIndex(key);
            emit QuorumSeedRetargeted(taskId, round, index, u.epoch, uint64(block.number));
            return;
        }
        u.seats = seats;
        u.drawNonce = nonce;
        if (seats == d.needed) {
            uint64 commitDeadline = uint64(block.timestamp) + t.params.commitTimeout;
            // forge-lint: disable-next-line(unsafe-typecast)
            u.deadline = uint40(commitDeadline); // far below 2^40 s
            (uint32 round, uint32 index) = _roundIndex(key);
            emit QuorumDrawn(taskId, round, index, d.epoch, u.level, commitDeadline);
        }
    }

    /// @inheritdoc ITaskMarket
    function declineTask(uint256 taskId) external {
        _existingTask(taskId);
        if (_declined[taskId][msg.sender]) revert TaskMarketAlreadyDeclined(taskId, msg.sender);
        _declined[taskId][msg.sender] = true;
        emit VerifierDeclined(taskId, msg.sender);
    }

    /// @dev What one call's draws share.
    struct Draw {
        uint256 taskId;
        uint256 key;
        uint32 epoch;
        uint8 level;
        bytes32 seed;
        uint256 poolBlock;
        uint96 bond;
        address miner;
        uint8 needed;
    }

    /// @dev Draws from the seed's sequence, from `nonce` on, until the seats are full or the tries run out. A draw
    /// is skipped when it picks the miner, an account that declined the task, or one whose own stake at risk no
    /// longer covers a vote bond (it unstaked or was slashed since the snapshot: see Staking._canSit); nothing
    /// another party does skips it.
    /// `emptyPool`: the pool held no stake at all at the snapshot block (nothing drawn then).
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events (the pool's draw: see above)
    function _fillSeats(Draw memory d, uint8 seats, uint32 nonce) private returns (uint8, uint32, bool emptyPool) {
        for (uint256 tries = uint256(d.needed - seats) * DRAW_TRIES_PER_SEAT; tries != 0 && seats < d.needed; --tries) {
            address v = _verifierPool().draw(uint256(keccak256(abi.encode(d.seed, nonce))), d.poolBlock);
            ++nonce;
            if (v == address(0)) return (seats, nonce, true);
            if (v == d.miner || _declined[d.taskId][v] || !_canSit(v, d.bond)) continue;
            _lockSeat(v, d.bond);
            _seat(d, v, seats);
            ++seats;
        }
        return (seats, nonce, false);
    }

    function _seat(Draw memory d, address verifier, uint8 seat) private {
        (uint32 round, uint32 index) = _roundIndex(d.key);
        // The first slot only: the commitment slot keeps its old value until this seat commits (see Ballot).
        Ballot storage b = _ballots[_ballotKey(d.taskId, index, d.level, seat)];
        b.verifier = verifier;
        b.committed = false;
        b.revealed = false;
        b.valid = false;
        emit VerifierDrawn(d.taskId, round, index, verifier, d.epoch, seat);
    }

    /// @dev The commit window closed with seats empty or uncommitted: the committed keep their seats, the others
    /// are released (bond unlocked: not committing is no fault worth a slash, only a lost reward) and drawn again
    /// from a fresh seed, this block's hash, against the pool as it stands now: a pool that was empty at the old
    /// seed would otherwise leave the seats empty forever. At every level, an appeal's included: a no-show gains
    /// nothing by it, it only gives up its own seat to a draw it cannot know, and the committed seats stay.
    function _replaceNoShows(uint256 taskId, Task storage t, Unit storage u, uint256 key) internal {
        (uint32 round, uint32 index) = _roundIndex(key);
        uint32 epoch = u.epoch;
        uint8 level = u.level;
        uint8 seats = u.seats;
        uint8 kept = 0;
        uint96 bond = t.params.voteBond;
        for (uint256 seat; seat < seats; ++seat) {
            Ballot storage b = _ballots[_ballotKey(taskId, index, level, seat)];
            if (b.committed) {
                if (kept != seat) _ballots[_ballotKey(taskId, index, level, kept)] = b;
                ++kept;
            } else {
                _unlockSeat(b.verifier, bond);
                emit VerifierReplaced(taskId, round, index, b.verifier, epoch);
            }
        }
        u.seats = kept;
        // forge-lint: disable-next-line(unsafe-typecast)
        u.deadline = uint40(block.timestamp + t.params.commitTimeout); // far below 2^40 s
        u.seedBlock = uint64(block.number);
        u.drawNonce = 0;
    }

    /// @dev Decides the current level from its reveals. No verdict (no reveal, or a tie left by non-revealers):
    /// non-revealers are slashed, revealers get their bonds back, a fresh quorum is drawn at the same level.
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events
    function _decide(uint256 taskId, Task storage t, Unit storage u, uint256 key) internal {
        (uint32 round, uint32 index) = _roundIndex(key);
        uint8 validVotes = u.validVotes;
        uint8 invalidVotes = u.reveals - validVotes;
        uint8 level = u.level;
        if (validVotes == invalidVotes) {
            uint256 slashed = _releaseUndecided(taskId, t, u, key);
            t.state.escrow += SafeCast.toUint128(slashed);
            uint32 epoch = _startVote(t, u, taskId, key, level);
            emit VoteReopened(taskId, round, index, epoch, u.deadline);
            return;
        }
        bool verdict = validVotes > invalidVotes;
        if (level != 0) _levels[taskId][index][level].verdict = verdict; // level 0: see challengeVerdict
        uint32 window = t.params.challengeWindow;
        bool isFinal = level == MAX_APPEAL_LEVEL || window == 0;
        // A verdict open to challenge is kept for the challenge and its settlement; a final one settles now, from
        // here (an accepted unit reads as valid and a rejected one is open again: see _verdictOf).
        if (!isFinal) u.verdict = verdict;
        uint64 challengeDeadline = uint64(block.timestamp) + (isFinal ? 0 : window);
        u.status = UnitStatus.Decided;
        // forge-lint: disable-next-line(unsafe-typecast)
        u.deadline = uint40(challengeDeadline); // far below 2^40 s
        emit VerdictReached(taskId, round, index, level, verdict, validVotes, invalidVotes, challengeDeadline);
        if (isFinal) _settleVerdict(taskId, t, u, key, verdict);
    }

    /// @dev Pays every seat of every level whose revealed vote is the final verdict and slashes every other seat;
    /// settles each appeal's challenger. Returns what went into and out of the task's escrow.
    /// Solvency, whatever a slash could take: level 0 is paid from the budget; an appeal whose challenger lost is
    /// paid by its bond (seatsAt × verifierReward, a bond the challenger took on itself: always whole); one whose
    /// challenger won is paid by what the overturned level's seats gave up (more than half of them, each voteBond ≥
    /// 4 × verifierReward ≥ what the appeal's seats and the challenger's reward need). Should that fall short, an
    /// overturned seat having been seated beyond its stake, the appeal's seats share what there is and the
    /// challenger's reward is what is left: a challenger that was right never loses any of its bond, and no level
    /// ever pays out more than came in for it.
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events
    function _settleVotes(uint256 taskId, Task storage t, Unit storage u, uint256 key, bool verdict)
        internal
        returns (uint256 escrowIn, uint256 escrowOut)
    {
        uint8 finalLevel = u.level;
        uint256 previousSlashed = 0; // what the level below gave up: an upheld appeal's funds
        for (uint8 l; l <= finalLevel; ++l) {
            (uint256 slashed, uint256 i, uint256 o) = _settleLevel(taskId, t, key, l, verdict, previousSlashed);
            escrowIn += i;
            escrowOut += o;
            previousSlashed = slashed;
        }
        // The unit's next vote (this round's, if rejected, or the next round's) starts unappealed. Level 0 is
        // written down only when it was appealed, and an appealed unit stays above level 0 until it settles.
        // forge-lint: disable-next-line(unsafe-typecast)
        if (finalLevel != 0) delete _levels[taskId][uint32(key)][0]; // the index half of the key
    }

    /// @dev Settles one level's seats and, above level 0, its challenger. An upheld appeal is paid from what the
    /// overturned level gave up (`below`), never by its challenger. Returns what the level's seats gave up, and
    /// what went into and out of the task's escrow.
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events
    function _settleLevel(uint256 taskId, Task storage t, uint256 key, uint8 level, bool verdict, uint256 below)
        private
        returns (uint256 slashed, uint256 escrowIn, uint256 escrowOut)
    {
        // forge-lint: disable-next-line(unsafe-typecast)
        Level[5] storage levels = _levels[taskId][uint32(key)]; // the index half of the key
        bool upheld = level != 0 && levels[level - 1].verdict != verdict;
        uint256 funds = upheld ? below : type(uint256).max;
        uint256 paid;
        (slashed, paid) = _settleSeats(taskId, t, key, level, _seats(t.params.quorum, level), verdict, funds);
        escrowIn = slashed;
        escrowOut = paid;
        if (level != 0) {
            (uint256 i, uint256 o) = _settleChallenge(taskId, t, key, levels[level].challenger, level, upheld, paid, below);
            escrowIn += i;
            escrowOut += o;
        }
    }

    /// @dev Returns what the level's seats gave up (slashed) and what they were paid: `verifierReward` a seat that
    /// voted the verdict, or an equal share of `funds` when those cannot pay that much to each.
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events
    function _settleSeats(
        uint256 taskId,
        Task storage t,
        uint256 key,
        uint8 level,
        uint8 seats,
        bool verdict,
        uint256 funds
    ) private returns (uint256 slashed, uint256 paid) {
        uint96 voteBond = t.params.voteBond;
        uint256 reward = t.params.verifierReward;
        (, uint32 index) = _roundIndex(key);
        if (funds < uint256(seats) * reward) {
            uint256 winners = _winners(taskId, index, level, seats, verdict);
            if (winners != 0 && funds / winners < reward) reward = funds / winners;
        }
        for (uint256 seat; seat < seats; ++seat) {
            Ballot storage b = _ballots[_ballotKey(taskId, index, level, seat)];
            address verifier = b.verifier;
            if (b.revealed && b.valid == verdict) {
                _unlockSeat(verifier, voteBond);
                if (reward != 0) {
                    _addCredit(verifier, reward);
                    paid += reward;
                    emit Credited(verifier, taskId, reward);
                }
            } else {
                slashed += _slashSeatAt(verifier, taskId, key, voteBond);
            }
        }
    }

    /// @dev How many of the level's seats revealed `verdict`.
    function _winners(uint256 taskId, uint32 index, uint8 level, uint8 seats, bool verdict)
        private
        view
        returns (uint256 winners)
    {
        for (uint256 seat; seat < seats; ++seat) {
            Ballot storage b = _ballots[_ballotKey(taskId, index, level, seat)];
            if (b.revealed && b.valid == verdict) ++winners;
        }
    }

    /// @dev Settles the challenger of `level`. Lost: its bond pays the level. Upheld: its bond comes back whole with
    /// `verifierReward`, paid from `funds` (what the overturned level gave up) after the level's seats (which never
    /// take more than `funds`: see _settleSeats); the reward is what is left when that is less. Returns what went
    /// into and out of escrow.
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events (the pool: see above)
    function _settleChallenge(
        uint256 taskId,
        Task storage t,
        uint256 key,
        address challenger,
        uint8 level,
        bool upheld,
        uint256 levelPaid,
        uint256 funds
    ) private returns (uint256 escrowIn, uint256 escrowOut) {
        uint256 bond = uint256(_seats(t.params.quorum, level)) * t.params.verifierReward;
        (uint32 round, uint32 index) = _roundIndex(key);
        if (!upheld) {
            _slashBond(challenger, taskId, round, index, bond);
            emit ChallengeSettled(taskId, round, index, challenger, level, false, 0);
            return (bond, 0);
        }
        uint256 reward = t.params.verifierReward;
        // levelPaid ≤ funds: an upheld level's seats share at most what the overturned level gave up.
        if (funds - levelPaid < reward) reward = funds - levelPaid;
        _unlockBond(challenger, bond);
        if (reward != 0) {
            _addCredit(challenger, reward);
            emit Credited(challenger, taskId, reward);
        }
        emit ChallengeSettled(taskId, round, index, challenger, level, true, reward);
        return (0, reward);
    }

    /// @dev Unlocks revealers and slashes non-revealers of the current epoch; returns what was slashed.
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events
    function _releaseUndecided(uint256 taskId, Task storage t, Unit storage u, uint256 key)
        private
        returns (uint256 slashed)
    {
        uint96 voteBond = t.params.voteBond;
        uint8 level = u.level;
        (, uint32 index) = _roundIndex(key);
        for (uint256 seat; seat < u.seats; ++seat) {
            Ballot storage b = _ballots[_ballotKey(taskId, index, level, seat)];
            if (b.revealed) {
                _unlockSeat(b.verifier, voteBond);
            } else {
                slashed += _slashSeatAt(b.verifier, taskId, key, voteBond);
            }
        }
    }

    /// @dev Writes the caller's commitment into each of its seats not yet committed; counts them.
    function _commitSeats(uint256 taskId, uint32 index, uint8 level, uint8 seats, bytes32 commitment)
        private
        returns (uint8 mine, bool held)
    {
        for (uint256 seat; seat < seats; ++seat) {
            Ballot storage b = _ballots[_ballotKey(taskId, index, level, seat)];
            if (b.verifier != msg.sender) continue;
            held = true;
            if (b.committed) continue;
            b.committed = true;
            b.commitment = commitment;
            ++mine;
        }
    }

    /// @dev Reveals the caller's vote on each of its seats not yet revealed; every one must match `expected`.
    function _revealSeats(uint256 taskId, uint32 index, uint8 level, uint8 seats, bytes32 expected, bool valid)
        private
        returns (uint8 mine, bool held)
    {
        // Every seat is committed once the vote is revealing (commits == seats opens it).
        for (uint256 seat; seat < seats; ++seat) {
            Ballot storage b = _ballots[_ballotKey(taskId, index, level, seat)];
            if (b.verifier != msg.sender) continue;
            held = true;
            if (b.revealed) continue;
            if (b.commitment != expected) revert TaskMarketCommitmentMismatch(b.commitment, expected);
            b.revealed = true;
            b.valid = valid;
            ++mine;
        }
    }

    function _slashSeatAt(address account, uint256 taskId, uint256 key, uint256 amount) private returns (uint256) {
        (uint32 round, uint32 index) = _roundIndex(key);
        return _slashSeat(account, taskId, round, index, amount);
    }

    /// @dev The randomness behind a draw: the seed block's hash, fixed after the submission and unknown when it was
    /// sent. Kept behind this one function so that a stronger source (a later block's prevrandao on a PoS chain,
    /// a VRF) can replace it. Zero once the block is over 256 blocks old.
    function _seedHash(uint64 seedBlock) private view returns (bytes32) {
        return blockhash(seedBlock);
    }
}
