#include "issuerhook/event_types.h"

#include <string.h>

/* Sorted by category, then type (the order GET /banking/eventTypes answers in). */
const struct event_type event_types[] = {
    {"riverty.event", "Info", "accountEvents", "accountInfo", "A Riverty-style customer-account event of type Info.",
     "the customer account", "/accountNumber"},
    {"riverty.event", "InterestCorrection", "accountEvents", "accountInterestCorrection",
     "A customer-account event of type InterestCorrection.", "the customer account", "/accountNumber"},
    {"riverty.event", "Purchase", "accountEvents", "accountPurchase", "A customer-account event of type Purchase.",
     "the customer account", "/accountNumber"},
    {"riverty.event", "Withdrawal", "accountEvents", "accountWithdrawal", "A customer-account event of type Withdrawal.",
     "the customer account", "/accountNumber"},
    {"riverty.event", "WithdrawalCommission", "accountEvents", "accountWithdrawalCommission",
     "A customer-account event of type WithdrawalCommission.", "the customer account", "/accountNumber"},
    {"riverty.event", "WithdrawalCorrection", "accountEvents", "accountWithdrawalCorrection",
     "A customer-account event of type WithdrawalCorrection.", "the customer account", "/accountNumber"},
    {"amiko.domain_event", "case_created", "amikoDomainEvents", "domainCaseCreated",
     "An Amiko domain event (v2): a dispute or fraud case was created.", "the Amiko event", "/header/eventId"},
    {"amiko.domain_event", NULL, "amikoDomainEvents", "domainUnknownEvent",
     "An Amiko domain event of a type this version does not know, stored as received (data.event.event_name "
     "names it).",
     "the Amiko event", "/header/eventId"},
    {"amiko.event", "case_created", "amikoEvents", "caseCreated",
     "An Amiko event notification (v1): a dispute or fraud case was created.", "the Amiko event", "/header/eventId"},
    {"amiko.event", NULL, "amikoEvents", "unknownEvent",
     "An Amiko event of a type this version does not know, stored as received (data.event.type names it).",
     "the Amiko event", "/header/eventId"},
    {"amiko.booking_result", "completed", "bookings", "bookingCompleted",
     "The ledger booked an Amiko booking request (issuerBookingId in data).", "the Amiko booking", "/amikoBookingId"},
    {"amiko.booking_result", "failed", "bookings", "bookingFailed",
     "The ledger could not book an Amiko booking request (failure in data).", "the Amiko booking", "/amikoBookingId"},
    {"amiko.booking", "booking_request", "bookings", "bookingRequested",
     "Amiko asked the bank to book an adjustment or a write-off; the booking is pending.", "the Amiko booking",
     "/amikoBookingId"},
    {"apiture.card_activity", "approved", "cardActivity", "cardActivityApproved",
     "The Card Adapter reported an approved card activity (the PAN masked).", "the card", "/cardId"},
    {"apiture.card_activity", "declined", "cardActivity", "cardActivityDeclined",
     "The Card Adapter reported a declined card activity (the PAN masked).", "the card", "/cardId"},
};
const size_t event_types_count = sizeof(event_types) / sizeof(event_types[0]);

const struct event_type *event_type_of(const char *source, const char *raw)
{
    const struct event_type *fallback = NULL;
    for (size_t i = 0; i < event_types_count; i++) {
        if (strcmp(event_types[i].source, source) != 0)
            continue;
        if (!event_types[i].raw)
            fallback = &event_types[i];
        else if (raw && strcmp(event_types[i].raw, raw) == 0)
            return &event_types[i];
    }
    return fallback;
}
