"""Ticket state across the files of one stream, and the moves a ticket makes between files.

The state is a few compact arrays per ticket (a 10x baseline is ~300,000 tickets); a
ticket's static text is not kept but regenerated from its own seed (see rows.py).
"""

from __future__ import annotations

import random
from array import array

from fleettickets.sample.text import below, pick
from fleettickets.sample.tickets import ALARM_BIT, NO_CAS_BIT, Spec
from fleettickets.sample.vocabulary import N_PEOPLE, NOC_TEAM_IDX, QUEUES, REGION_TEAM_IDX, SHARED_TEAM_IDX

UNBORN, CLOSED = -1, 4  # stages: -1 planned, 0..3 open (New..Pending), 4 closed


class TicketState:
    """Per-ticket arrays (index i is the i-th ticket of the stream) and the open pools."""

    def __init__(self, spec: Spec, seed: int) -> None:
        self.spec = spec
        self.rng = random.Random(seed * 8 + spec.salt)
        self.numbers = array("q")
        self.created = array("q")  # created_at_service (true value), naive EAT seconds
        self.first_seen = array("q")
        self.flags = array("b")
        self.stage = array("b")
        self.team = array("h")  # -1 = none
        self.owner = array("h")  # -1 = none
        self.open_pool = array("l")  # open non-alarm tickets
        self.alarm_pool = array("l")  # open alarms
        self.next_number = spec.first_number

    def is_alarm(self, i: int) -> bool:
        return bool(self.flags[i] & ALARM_BIT)

    def pool_of(self, i: int) -> array[int]:
        return self.alarm_pool if self.is_alarm(i) else self.open_pool

    def new_ticket(self, first_seen: int, alarm: bool, closed: bool) -> int:
        """A new ticket number (now and then a gap, like a real numbering); its index."""
        rng = self.rng
        self.next_number += 1 + (1 + below(rng, 3) if rng.random() < 0.04 else 0)
        no_cas = rng.random() < (0.05 if closed else 0.58)
        self.numbers.append(self.next_number)
        self.created.append(0)
        self.first_seen.append(first_seen)
        self.flags.append((ALARM_BIT if alarm else 0) | (NO_CAS_BIT if no_cas else 0))
        self.stage.append(UNBORN)
        self.team.append(-1)
        self.owner.append(-1)
        return len(self.numbers) - 1

    def take(self, pool: array[int], used: set[int], remove: bool) -> int | None:
        """A random ticket of the pool not in `used` (a few tries), removed from it if asked."""
        for _ in range(8):
            if not pool:
                return None
            pos = below(self.rng, len(pool))
            i = pool[pos]
            if i in used:
                continue
            if remove:
                pool[pos] = pool[-1]
                pool.pop()
            return i
        return None

    def remove_from_pool(self, i: int) -> None:
        pool = self.pool_of(i)
        pos = pool.index(i)
        pool[pos] = pool[-1]
        pool.pop()

    # -- who works on it -------------------------------------------------------------------

    def pick_team(self, region: str, alarm: bool) -> int:
        rng = self.rng
        if alarm:
            return pick(rng, NOC_TEAM_IDX)
        if rng.random() < 0.85:
            return pick(rng, REGION_TEAM_IDX[region])
        return pick(rng, SHARED_TEAM_IDX)

    def pick_person(self, other: int = -1) -> int:
        who = below(self.rng, N_PEOPLE)
        return (who + 1) % N_PEOPLE if who == other else who

    def pick_queue(self) -> int:
        return N_PEOPLE + below(self.rng, len(QUEUES))

    # -- moves -----------------------------------------------------------------------------

    def open_state(self, i: int, region: str, stage: int) -> None:
        """A ticket's first open state: New sits in a queue, later stages with a person."""
        rng = self.rng
        self.stage[i] = stage
        if stage == 0:
            self.team[i] = -1
            x = rng.random()
            self.owner[i] = self.pick_queue() if x < 0.65 else self.pick_person() if x < 0.97 else -1
        else:
            self.team[i] = self.pick_team(region, self.is_alarm(i)) if rng.random() < 0.95 else -1
            x = rng.random()
            self.owner[i] = self.pick_person() if x < 0.95 else self.pick_queue() if x < 0.97 else -1

    def progress(self, i: int, region: str) -> None:
        """Move an open ticket forward (or re-route it); never backwards, never a no-op."""
        rng = self.rng
        alarm = self.is_alarm(i)
        stage, team, owner = self.stage[i], self.team[i], self.owner[i]
        if stage == 0:
            stage, team = 1, self.pick_team(region, alarm)
            if owner < 0 or owner >= N_PEOPLE or rng.random() < 0.3:
                owner = self.pick_person(owner)
        else:
            if (stage == 1 and rng.random() < 0.8) or (stage == 2 and rng.random() < 0.35):
                stage += 1
            if team < 0 or rng.random() < 0.15:
                team = self.pick_team(region, alarm)
            if owner < 0 or owner >= N_PEOPLE or rng.random() < 0.3:
                owner = self.pick_person(owner)
            if (stage, team, owner) == (self.stage[i], self.team[i], self.owner[i]):
                owner = self.pick_person(owner)
        self.stage[i], self.team[i], self.owner[i] = stage, team, owner

    def close(self, i: int, region: str) -> None:
        rng = self.rng
        self.stage[i] = CLOSED
        if self.team[i] < 0 and rng.random() < 0.7:
            self.team[i] = self.pick_team(region, self.is_alarm(i))
        owner = self.owner[i]
        if (owner < 0 or owner >= N_PEOPLE) and rng.random() < 0.8:
            self.owner[i] = self.pick_person()
