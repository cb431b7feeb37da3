#include "issuerhook/api.h"
#include "issuerhook/scope.h"

const struct route api_routes[] = {
    {"POST", "/events", ACCESS_SCOPED, SCOPE_AMIKO_EVENTS, true, true, DIALECT_AMIKO, amiko_post_event},
    {"POST", "/domain-events", ACCESS_SCOPED, SCOPE_AMIKO_EVENTS, true, true, DIALECT_AMIKO, amiko_post_domain_event},
    {"POST", "/bookings", ACCESS_SCOPED, SCOPE_AMIKO_BOOKINGS, true, true, DIALECT_AMIKO, booking_post},
    {"GET", "/bookings", ACCESS_SCOPED, SCOPE_LEDGER_READ, false, false, DIALECT_AMIKO, booking_list},
    {"GET", "/bookings/{amikoBookingId}", ACCESS_SCOPED, SCOPE_LEDGER_READ, false, false, DIALECT_AMIKO, booking_get},
    {"POST", "/bookings/{amikoBookingId}/result", ACCESS_SCOPED, SCOPE_LEDGER_WRITE, true, false, DIALECT_AMIKO,
     booking_post_result},
    {"POST", "/system/incomingCardActivity", ACCESS_SCOPED, SCOPE_CARD_ADAPTER_WRITE, true, false, DIALECT_APITURE,
     card_activity_post},
    {"POST", "/api/v3/customer-account/{accountNumber}/event", ACCESS_SCOPED, SCOPE_RIVERTY_EVENTS, true, false,
     DIALECT_RIVERTY, riverty_post_event},
    {"GET", "/banking/recentEventHistory", ACCESS_SCOPED, SCOPE_BANKING_ADMIN_READ, false, false, DIALECT_APITURE,
     feed_recent},
    {"GET", "/banking/eventHistory", ACCESS_SCOPED, SCOPE_BANKING_ADMIN_READ, false, false, DIALECT_APITURE,
     feed_history},
    {"GET", "/banking/eventTypes", ACCESS_SCOPED, SCOPE_BANKING_ADMIN_READ, false, false, DIALECT_APITURE,
     feed_event_types},
    {"GET", "/health", ACCESS_HEALTH, 0, false, false, DIALECT_AMIKO, health_get},
    {"GET", "/metrics", ACCESS_METRICS, 0, false, false, DIALECT_APITURE, metrics_get_route},
};
const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);
