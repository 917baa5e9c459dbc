"""Where everything of the node is: conferences by id and by alias, participants by uuid, and
the room each participant is in.

The node and its parts (:mod:`.room_events`, :mod:`.stage_views`, :mod:`.direct_media`...)
look things up here rather than in one another, so that none of them needs the node itself.
Aliases match as :func:`.config.normalise_alias` has them (case, ``sip:`` prefixes...).

A conference ends when its last caller leaves (:meth:`Registry.end`): an auto-created VMR
(``default_vmr``, or a Virtual Reception's target that had no entry) is forgotten, so its
alias makes a new one next time; a configured one keeps its id and aliases and starts afresh
(new main room: unlocked or locked as configured, no breakouts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pexbot.emulator.config import ConferenceConfig, normalise_alias

from .model import Conference, Participant, Room, new_uuid


class Registry:
    def __init__(
        self,
        configs: Iterable[ConferenceConfig],
        *,
        default_vmr: bool,
        wall: Callable[[], float],
    ) -> None:
        self._default_vmr = default_vmr
        self._wall = wall
        self.conferences: dict[str, Conference] = {}
        self.participants: dict[str, Participant] = {}
        self._aliases: dict[str, str] = {}  # normalised alias → conference id
        for conf in configs:
            self.create(conf, auto=False)

    # -- conferences ------------------------------------------------------------------------

    def create(self, conf: ConferenceConfig, *, auto: bool) -> Conference:
        conference_id = new_uuid()
        conference = Conference(conference_id, conf, self._fresh_room(conference_id, conf), auto)
        self.conferences[conference_id] = conference
        for alias in conf.aliases:
            self._aliases[normalise_alias(alias)] = conference_id
        return conference

    def _fresh_room(self, conference_id: str, conf: ConferenceConfig) -> Room:
        return Room(
            id=conference_id,
            conference_id=conference_id,
            locked=conf.locked,
            guests_can_unmute=conf.guests_can_unmute,
            created_at=self._wall(),
        )

    def by_alias(self, alias: str) -> Conference | None:
        conference_id = self._aliases.get(normalise_alias(alias))
        return self.conferences.get(conference_id) if conference_id else None

    def for_alias(self, alias: str) -> Conference | None:
        """The conference an alias names; with ``default_vmr`` an unknown alias makes one."""
        found = self.by_alias(alias)
        if found is None and self._default_vmr and alias.strip():
            name = alias.strip()
            found = self.create(ConferenceConfig(aliases=[name], name=name), auto=True)
        return found

    def config_for(self, alias: str) -> ConferenceConfig | None:
        conference = self.by_alias(alias)
        return conference.config if conference else None

    def for_config(self, conf: ConferenceConfig) -> Conference:
        """The conference of ``conf`` (by its first alias), made if there is none yet."""
        conference = self.by_alias(conf.aliases[0])
        if conference is None:
            conference = self.create(conf, auto=True)
        return conference

    def names(self, alias: str, conference_id: str) -> bool:
        """Whether ``alias`` is one of the conference's aliases."""
        return self._aliases.get(normalise_alias(alias)) == conference_id

    def end(self, conference: Conference) -> None:
        """The conference's last caller left (its participants are gone already)."""
        if conference.auto:
            del self.conferences[conference.id]
            for alias in conference.config.aliases:
                self._aliases.pop(normalise_alias(alias), None)
        else:
            conference.breakouts.clear()
            conference.main = self._fresh_room(conference.id, conference.config)

    # -- where participants are -----------------------------------------------------------------

    def conference_of(self, participant: Participant) -> Conference:
        return self.conferences[participant.conference_id]

    def room_of(self, participant: Participant) -> Room:
        room = self.conference_of(participant).room(participant.room_id)
        assert room is not None, "participant in a room that no longer exists"
        return room

    def room(self, conference_id: str, room_id: str) -> Room | None:
        """A room that may have gone (its conference ended, its breakout closed)."""
        conference = self.conferences.get(conference_id)
        return conference.room(room_id) if conference is not None else None
