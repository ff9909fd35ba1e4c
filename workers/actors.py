"""Every actor module, imported for `dramatiq workers.actors`. One line per module."""

import workers.broker  # noqa: F401  (sets the broker before actors are declared)
import workers.calendars  # noqa: F401
import workers.escalation  # noqa: F401
import workers.export  # noqa: F401
import workers.monitors  # noqa: F401
import workers.notify  # noqa: F401
import workers.pilot  # noqa: F401
import workers.reminders  # noqa: F401
import workers.timers  # noqa: F401
import workers.webhooks  # noqa: F401
from app.logredact import install
from workers.metrics import serve_from_worker_boot

install()  # before any actor runs: no secret in a worker's log
serve_from_worker_boot()
