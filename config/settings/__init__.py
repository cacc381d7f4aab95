"""Settings: one base module plus one module per integration, all read from the environment.

Every variable is listed, with its meaning, in `.env.example` and the README.
"""

from config.settings.base import *  # noqa: F403
from config.settings.billing import *  # noqa: F403
from config.settings.celery import *  # noqa: F403
from config.settings.jwt import *  # noqa: F403
from config.settings.payments import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.sms import *  # noqa: F403
