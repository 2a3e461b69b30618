/* Unit tests for core/lib/template.c: the subset of Go's text/template used
 * by --format and -f. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/lib/template.h"

struct fixture {
    char dir[64];
    json_t *data;
};

/* Keys of objects are in sorted order so that both insertion order and
 * sorted order give the same JSON. */
static const char *const DATA =
    "{"
    "\"Name\": \"m1\","
    "\"Mixed\": \"MiXeD Case\","
    "\"Driver\": {\"IPAddress\": \"10.0.0.5\", \"MachineName\": \"m1\", \"SSHPort\": 22},"
    "\"Count\": 3,"
    "\"Neg\": -7,"
    "\"Big\": 1234567890123,"
    "\"Real\": 1.5,"
    "\"On\": true,"
    "\"Off\": false,"
    "\"Nil\": null,"
    "\"List\": [\"a\", \"b\"],"
    "\"Empty\": [],"
    "\"MixedList\": [1, true, \"s\", [\"x\", \"y\"]],"
    "\"Map\": {\"k\": \"v\"},"
    "\"Unsorted\": {\"b\": 2, \"a\": \"x\"},"
    "\"Nested\": {\"z\": {\"y\": 1}},"
    "\"EmptyMap\": {}"
    "}";

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    json_error_t jerr;

    strcpy(f->dir, "/tmp/berth-test-template-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    f->data = json_loads(DATA, 0, &jerr);
    if (f->data == NULL) {
        fprintf(stderr, "test data: line %d: %s\n", jerr.line, jerr.text);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    int r = rm_rf(f->dir, &err);

    berr_free(&err);
    json_decref(f->data);
    free(f);
    return r;
}

/* Render TMPL over DATA and compare with WANT. */
static void check_with(const char *tmpl, const json_t *data, const char *want)
{
    berr_t err = NULL;
    char *out = NULL;

    if (template_render(tmpl, data, &out, &err) < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", berr_msg(err));
        berr_free(&err);
        fail_msg("template \"%s\": unexpected error: %s", tmpl, msg);
    }
    assert_null(err);
    assert_non_null(out);
    if (strcmp(out, want) != 0) {
        char got[512];
        snprintf(got, sizeof(got), "%s", out);
        free(out);
        fail_msg("template \"%s\": got \"%s\", want \"%s\"", tmpl, got, want);
    }
    free(out);
}

static void check(void **state, const char *tmpl, const char *want)
{
    struct fixture *f = *state;
    check_with(tmpl, f->data, want);
}

/* Render TMPL, expect a failure, and check that the message contains each of
 * the NULL-terminated strings that follow. */
static void check_error(void **state, const char *tmpl, ...)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    char *out = NULL;
    va_list ap;
    const char *want;
    char msg[512];

    if (template_render(tmpl, f->data, &out, &err) == 0) {
        char got[512];
        snprintf(got, sizeof(got), "%s", out ? out : "(null)");
        free(out);
        fail_msg("template \"%s\": expected an error, got output \"%s\"", tmpl, got);
    }
    assert_non_null(err);
    snprintf(msg, sizeof(msg), "%s", berr_msg(err));
    berr_free(&err);
    free(out);
    va_start(ap, tmpl);
    while ((want = va_arg(ap, const char *)) != NULL) {
        if (strstr(msg, want) == NULL) {
            va_end(ap);
            fail_msg("template \"%s\": error \"%s\" does not mention \"%s\"", tmpl, msg, want);
        }
    }
    va_end(ap);
}

static void test_literal_text(void **state)
{
    check(state, "", "");
    check(state, "hello world", "hello world");
    check(state, "no {actions} here }}", "no {actions} here }}");
    check(state, "a single { brace", "a single { brace");
}

static void test_field(void **state)
{
    check(state, "{{.Name}}", "m1");
    check(state, "name={{.Name}}!", "name=m1!");
    check(state, "{{ .Name }}", "m1");
    check(state, "{{.Name}}{{.Name}}", "m1m1");
    check(state, "[{{.Name}}] [{{.Count}}]", "[m1] [3]");
}

static void test_nested_field(void **state)
{
    check(state, "{{.Driver.IPAddress}}", "10.0.0.5");
    check(state, "{{.Driver.MachineName}}:{{.Driver.SSHPort}}", "m1:22");
    check(state, "{{.Nested.z.y}}", "1");
}

static void test_dot(void **state)
{
    json_t *s = json_string("just a string");
    json_t *obj = json_pack("{s:i,s:s}", "b", 2, "a", "x");
    json_t *arr = json_pack("[s,i]", "a", 1);

    (void)state;
    check_with("{{.}}", s, "just a string");
    check_with("<{{ . }}>", s, "<just a string>");
    check_with("{{.}}", obj, "map[a:x b:2]");
    check_with("{{.}}", arr, "[a 1]");
    check_with("{{json .}}", obj, "{\"b\":2,\"a\":\"x\"}");
    json_decref(s);
    json_decref(obj);
    json_decref(arr);
}

static void test_missing_key(void **state)
{
    check(state, "{{.Missing}}", "<no value>");
    check(state, "{{.Driver.Missing}}", "<no value>");
    check(state, "a{{.Missing.Deeper}}b", "a<no value>b");
}

static void test_json(void **state)
{
    check(state, "{{json .Driver}}",
          "{\"IPAddress\":\"10.0.0.5\",\"MachineName\":\"m1\",\"SSHPort\":22}");
    check(state, "{{json .Name}}", "\"m1\"");
    check(state, "{{json .Count}}", "3");
    check(state, "{{json .On}}", "true");
    check(state, "{{json .Nil}}", "null");
    check(state, "{{json .List}}", "[\"a\",\"b\"]");
    check(state, "{{json .Empty}}", "[]");
    check(state, "{{json .EmptyMap}}", "{}");
    check(state, "{{ json   .Map }}", "{\"k\":\"v\"}");
}

static void test_json_missing(void **state)
{
    check(state, "{{json .Missing}}", "null");
    check(state, "{{json .Driver.Missing}}", "null");
}

static void test_upper_lower(void **state)
{
    check(state, "{{upper .Name}}", "M1");
    check(state, "{{lower .Mixed}}", "mixed case");
    check(state, "{{upper .Mixed}}", "MIXED CASE");
    check(state, "{{upper .Driver.MachineName}}-{{lower .Driver.IPAddress}}", "M1-10.0.0.5");
    check(state, "{{upper .On}}", "TRUE");
}

static void test_value_printing(void **state)
{
    check(state, "{{.Count}}", "3");
    check(state, "{{.Neg}}", "-7");
    check(state, "{{.Big}}", "1234567890123");
    check(state, "{{.Real}}", "1.5");
    check(state, "{{.On}}", "true");
    check(state, "{{.Off}}", "false");
    /* A present null prints as Go prints a nil value. */
    check(state, "{{.Nil}}", "<nil>");
    check(state, "{{.List}}", "[a b]");
    check(state, "{{.Empty}}", "[]");
    check(state, "{{.MixedList}}", "[1 true s [x y]]");
    check(state, "{{.Map}}", "map[k:v]");
    /* Go prints maps with their keys sorted. */
    check(state, "{{.Unsorted}}", "map[a:x b:2]");
    check(state, "{{.Nested}}", "map[z:map[y:1]]");
    check(state, "{{.EmptyMap}}", "map[]");
}

static void test_escapes(void **state)
{
    check(state, "{{.Name}}\\t{{.Count}}\\n", "m1\t3\n");
    check(state, "NAME\\tURL\\n{{.Name}}\\ttcp", "NAME\tURL\nm1\ttcp");
    /* Other backslashes are kept as they are. */
    check(state, "a\\b", "a\\b");
    check(state, "end\\", "end\\");
    check(state, "\\\\t", "\\\t");
}

static void test_trim(void **state)
{
    check(state, "a  {{- .Name -}}  b", "am1b");
    check(state, "a \n\t{{- .Name}} b", "am1 b");
    check(state, "a {{.Name -}}\n\n  b", "a m1b");
    check(state, "{{.Name}} {{- .Count}}", "m13");
    check(state, "{{.Name -}} {{.Count}}", "m13");
    check(state, "{{.Name -}}   ", "m1");
    check(state, "   {{- .Name}}", "m1");
    /* Without the space '-' is not a trim marker; a dash in text is kept. */
    check(state, "a - {{.Name}} - b", "a - m1 - b");
}

static void test_unclosed_action(void **state)
{
    check_error(state, "x {{.Name", "unclosed", NULL);
    check_error(state, "{{.Name}} and {{", "unclosed", NULL);
}

static void test_unknown_function(void **state)
{
    check_error(state, "{{frob .Name}}", "frob", "not defined", NULL);
    check_error(state, "ok {{title .Name}}", "title", NULL);
}

static void test_garbage_action(void **state)
{
    check_error(state, "{{ !!! }}", "!!!", NULL);
    check_error(state, "{{}}", "template", NULL);
    check_error(state, "{{Name}}", "Name", NULL);
    check_error(state, "{{json}}", "json", NULL);
    check_error(state, "{{.Name .Count}}", ".Name", NULL);
    check_error(state, "{{.Na$me}}", "Na$me", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literal_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upper_lower, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_printing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclosed_action, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_action, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
