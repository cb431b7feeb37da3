#include "issuerhook/subject.h"

#include <stdio.h>
#include <string.h>

#include "issuerhook/scope.h"

ih_status subject_rule_parse(const char *name, const char *value, struct subject_rule *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t nl = strlen(name);
    if (nl == 0 || nl >= sizeof(out->name)) {
        snprintf(err, errlen, "the rule name must have 1 to %d characters", SUBJECT_NAME_MAX - 1);
        return IH_EINVAL;
    }
    memcpy(out->name, name, nl + 1);
    size_t sl = strcspn(value, " \t");
    char scopes[256], bad[80];
    if (sl == 0 || sl >= sizeof(scopes)) {
        snprintf(err, errlen, "expected '<scope>[,<scope>...] <subject DN>'");
        return IH_EINVAL;
    }
    memcpy(scopes, value, sl);
    scopes[sl] = '\0';
    if (!scope_parse_list(scopes, ",", false, &out->scopes, bad, sizeof(bad)) || out->scopes == 0) {
        snprintf(err, errlen, "unknown scope '%s'", bad);
        return IH_EINVAL;
    }
    const char *dn = value + sl + strspn(value + sl, " \t");
    size_t dl = strlen(dn);
    while (dl && (dn[dl - 1] == ' ' || dn[dl - 1] == '\t'))
        dl--;
    if (dl == 0 || dl >= sizeof(out->subject) || !memchr(dn, '=', dl)) {
        snprintf(err, errlen, "expected a subject DN such as CN=amiko-prod,O=Amiko after the scopes");
        return IH_EINVAL;
    }
    memcpy(out->subject, dn, dl);
    out->subject[dl] = '\0';
    return IH_OK;
}

bool subject_required(const struct subject_rule *rules, size_t n, unsigned scope)
{
    for (size_t i = 0; i < n; i++)
        if (rules[i].scopes & scope)
            return true;
    return false;
}

bool subject_allowed(const struct subject_rule *rules, size_t n, unsigned scope, const char *dn)
{
    bool covered = false;
    for (size_t i = 0; i < n; i++) {
        if (!(rules[i].scopes & scope))
            continue;
        covered = true;
        if (dn && strcmp(rules[i].subject, dn) == 0)
            return true;
    }
    return !covered;
}
