/* test_catalog.c -- the trigger-action catalog: built-ins, additions, order, application names */
#include <stdlib.h>

#include "core/catalog.h"
#include "core/error.h"
#include "unit.h"

#define ENTERPRISE 1
#define ELITE 2

TEST(builtin_actions)
{
    hk_catalog_t *c;
    CHECK_INT(hk_catalog_new(&c), 0);
    const hk_trigger_action_t *a = hk_catalog_find(c, ENTERPRISE, "AccountUpdated");
    CHECK(a != NULL);
    CHECK_STR(a->display_name, "Account Update");
    CHECK_INT(a->application, ENTERPRISE);
    CHECK(hk_catalog_find(c, ENTERPRISE, "BookingCancelled") != NULL);
    CHECK(hk_catalog_find(c, ENTERPRISE, "PaymentReceived") != NULL);
    CHECK(hk_catalog_find(c, ELITE, "ContractSigned") != NULL);
    CHECK(hk_catalog_find(c, ELITE, "OrderCreated") != NULL);
    /* Keys are exact: case matters, and each application has its own list. */
    CHECK(hk_catalog_find(c, ENTERPRISE, "accountupdated") == NULL);
    CHECK(hk_catalog_find(c, ENTERPRISE, "ContractSigned") == NULL);
    CHECK(hk_catalog_find(c, 0, "AccountUpdated") == NULL);
    CHECK(hk_catalog_find(c, 3, "AccountUpdated") == NULL);
    CHECK(hk_catalog_find(c, ENTERPRISE, "") == NULL);
    hk_catalog_free(c);
}

TEST(list_grouped_by_application)
{
    hk_catalog_t *c;
    size_t n;
    CHECK_INT(hk_catalog_new(&c), 0);
    /* Added after Elite's built-ins, an Enterprise action still lists with Enterprise's. */
    CHECK_INT(hk_catalog_add(c, ENTERPRISE, "SpaceReserved", "Space Reserve"), 0);
    const hk_trigger_action_t *all = hk_catalog_list(c, &n);
    CHECK(n > 20);
    int seen_elite = 0;
    size_t last_enterprise = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(all[i].application == ENTERPRISE || all[i].application == ELITE);
        if (all[i].application == ELITE)
            seen_elite = 1;
        else {
            CHECK(!seen_elite);
            last_enterprise = i;
        }
    }
    CHECK(seen_elite);
    CHECK_STR(all[last_enterprise].key, "SpaceReserved");
    CHECK_STR(all[0].key, "AccountCreated");
    hk_catalog_free(c);
}

TEST(add_and_rename)
{
    hk_catalog_t *c;
    size_t n0, n1;
    CHECK_INT(hk_catalog_new(&c), 0);
    hk_catalog_list(c, &n0);
    CHECK_INT(hk_catalog_add(c, ELITE, "Menu.Approved-2", "Menü Approve"), 0);
    hk_catalog_list(c, &n1);
    CHECK_INT(n1, n0 + 1);
    CHECK_STR(hk_catalog_find(c, ELITE, "Menu.Approved-2")->display_name, "Menü Approve");
    /* Same key again renames instead of adding. */
    CHECK_INT(hk_catalog_add(c, ELITE, "AccountUpdated", "Account Change"), 0);
    hk_catalog_list(c, &n1);
    CHECK_INT(n1, n0 + 1);
    CHECK_STR(hk_catalog_find(c, ELITE, "AccountUpdated")->display_name, "Account Change");
    CHECK_STR(hk_catalog_find(c, ENTERPRISE, "AccountUpdated")->display_name, "Account Update");
    hk_catalog_free(c);
}

TEST(add_refuses_bad_input)
{
    hk_catalog_t *c;
    char long_key[102], long_name[202];
    memset(long_key, 'K', 101);
    long_key[101] = '\0';
    memset(long_name, 'n', 201);
    long_name[201] = '\0';
    CHECK_INT(hk_catalog_new(&c), 0);
    CHECK_INT(hk_catalog_add(c, 0, "Key", "Name"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, 3, "Key", "Name"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "", "Name"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "Has Space", "Name"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "Umläut", "Name"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, long_key, "Name"), HK_EINVAL);
    long_key[100] = '\0';
    CHECK_INT(hk_catalog_add(c, ELITE, long_key, "Name"), 0);
    CHECK_INT(hk_catalog_add(c, ELITE, "Key", ""), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "Key", "   "), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "Key", "Tab\there"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "Key", "C1 \xc2\x85"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "Key", "bad \xff utf8"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "Key", "overlong \xc0\xaf"), HK_EINVAL);
    CHECK_INT(hk_catalog_add(c, ELITE, "Key", long_name), HK_EINVAL);
    long_name[200] = '\0';
    CHECK_INT(hk_catalog_add(c, ELITE, "Key", long_name), 0);
    CHECK(hk_catalog_find(c, ELITE, "Key") != NULL);
    hk_catalog_free(c);
}

TEST(application_names)
{
    CHECK_INT(hk_application_parse("enterprise"), ENTERPRISE);
    CHECK_INT(hk_application_parse("Enterprise"), ENTERPRISE);
    CHECK_INT(hk_application_parse("ELITE"), ELITE);
    CHECK_INT(hk_application_parse("elites"), 0);
    CHECK_INT(hk_application_parse(""), 0);
    CHECK_INT(hk_application_parse(NULL), 0);
    CHECK_STR(hk_application_name(ENTERPRISE), "enterprise");
    CHECK_STR(hk_application_name(ELITE), "elite");
    CHECK(hk_application_name(0) == NULL);
    CHECK(hk_application_name(7) == NULL);
}
