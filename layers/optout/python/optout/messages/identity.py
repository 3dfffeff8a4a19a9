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
    """An organisation as its messages show it."""

    sender: Sender  # the From name and address, and the SES configuration set
    organisation: str  # the name in the footer
    organisation_address: str  # the postal address in the footer
    support_contact: str  # the footer's support line; "": none (the default organisation)

    @property
    def footer(self) -> dict[str, str]:
        """The templates' values for the footer."""
        return {
            "organisation": self.organisation,
            "organisation_address": self.organisation_address,
            "support_contact": self.support_contact,
        }

    @property
    def from_header(self) -> str:
        """The From line as a person's mail client shows it (no quoting, no encoded words)."""
        return f"{self.sender.name} <{self.sender.address}>"


def of(settings: Settings, organisation: Organisation | None) -> Identity:
    """Who `organisation`'s messages come from (None: the default organisation)."""
    if organisation is None or organisation.organisation_id == DEFAULT:
        # Read field by field rather than through `default_organisation`: a function is given
        # only the parameters it reads (the notifier has no support contact nor privacy notice).
        return Identity(
            sender=Sender(
                settings.organisation_name,
                settings.sender_address,
                settings.ses_configuration_set,
            ),
            organisation=settings.organisation_name,
            organisation_address=settings.organisation_address,
            support_contact="",
        )
    return Identity(
        sender=Sender(
            organisation.name,
            organisation.sender_address,
            organisation.configuration_set or settings.ses_configuration_set,
        ),
        organisation=organisation.name,
        organisation_address=organisation.postal_address,
        support_contact=organisation.help_contact,
    )
