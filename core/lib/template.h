/* The part of Go's text/template that users of docker-machine write in
 * `--format` and `-f`: literal text, `{{.Field.Path}}`, `{{.}}`, and the
 * functions json, upper and lower (`{{json .Driver}}`), with `{{-`/`-}}`
 * trimming and the escapes \t and \n in the template text. Values print
 * as Go prints them: missing keys as <no value>, lists as [a b]. */
#ifndef BERTH_TEMPLATE_H
#define BERTH_TEMPLATE_H

#include <jansson.h>

#include "berth/error.h"

/* Render TMPL over DATA into *out (malloc()ed). */
int template_render(const char *tmpl, const json_t *data, char **out, berr_t *err);

#endif
