"""The locustfile for pexbots (see :mod:`.locust_user`): ``pexbot load --locustfile`` prints its
path. Workers started with ``-f -`` receive it from the master; they need pexbot installed.

::

    locust -f "$(pexbot load --locustfile)" --master --host URL --pexbot-alias ALIAS ...
    LOCUST_SKIP_MONKEY_PATCH=1 locust -f - --worker --master-host MASTER
"""

from locust import events

from pexbot.jobs.locust_user import PexbotUser, add_arguments

events.init_command_line_parser.add_listener(add_arguments)  # type: ignore[no-untyped-call]


class PexbotBot(PexbotUser):
    """One pexbot in the conference per Locust user."""
