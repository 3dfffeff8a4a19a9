"""Who a message comes from: the one place an organisation becomes what its messages carry.

Every message an organisation sends (a reminder, a confirmation, an organiser's preview and
test send) comes From its name and address, through its SES configuration set, with its postal
address and support contact in the footer. Built here and nowhere else, so that no message can
take one organisation's From with another's footer. The default organisation (None, or one
whose id is the default's) is the deployment's own parameters, and its footer reads as every
message did before coalitions (no support line).
"""

from __future__ import annotations

from dataclasses import dataclass

from optout.channels.email import Sender
from optout.core.settings import Settings
from optout.domain.organisations import DEFAULT, Organisation


@dataclass(frozen=True)
class Identity:
    """An organisation as its messages show it. Each part reads only the parameters it needs
    (a function is given only those it reads: the scheduler, which renders to check the
    templates, has no SES configuration set)."""

    settings: Settings
    organisation: Organisation | None  # None: the default organisation

    @property
    def _default(self) -> bool:
        return self.organisation is None or self.organisation.organisation_id == DEFAULT

    @property
    def sender(self) -> Sender:
        """The From name and address, and the SES configuration set."""
        if self.organisation is None or self._default:
            return Sender(
                self.settings.organisation_name,
                self.settings.sender_address,
                self.settings.ses_configuration_set,
            )
        return Sender(
            self.organisation.name,
            self.organisation.sender_address,
            self.organisation.configuration_set or self.settings.ses_configuration_set,
        )

    @property
    def footer(self) -> dict[str, str]:
        """The templates' values for the footer: name, postal address, support line ("" for
        the default organisation, whose footer has none)."""
        if self.organisation is None or self._default:
            return {
                "organisation": self.settings.organisation_name,
                "organisation_address": self.settings.organisation_address,
                "support_contact": "",
            }
        return {
            "organisation": self.organisation.name,
            "organisation_address": self.organisation.postal_address,
            "support_contact": self.organisation.help_contact,
        }

    @property
    def from_header(self) -> str:
        """The From line as a person's mail client shows it (no quoting, no encoded words)."""
        sender = self.sender
        return f"{sender.name} <{sender.address}>"


def of(settings: Settings, organisation: Organisation | None) -> Identity:
    """Who `organisation`'s messages come from (None: the default organisation)."""
    return Identity(settings, organisation)
