/* banned.h -- turns unsafe libc calls into compile errors.
 *
 * Include it after every system header. Use snprintf() with a truncation
 * check, struct hd_buf, or hd_parse_*() / strtol() with checks instead.
 * It bans nothing that has no safe replacement in this tree. */
#ifndef HD_BANNED_H
#define HD_BANNED_H

#define HD_BANNED(func) sorry_##func##_is_a_banned_function

#undef sprintf
#define sprintf(...) HD_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) HD_BANNED(vsprintf)
#undef strcpy
#define strcpy(x, y) HD_BANNED(strcpy)
#undef strcat
#define strcat(x, y) HD_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) HD_BANNED(strncpy)
#undef strtok
#define strtok(x, y) HD_BANNED(strtok)
#undef atoi
#define atoi(x) HD_BANNED(atoi)
#undef atol
#define atol(x) HD_BANNED(atol)
#undef gmtime
#define gmtime(x) HD_BANNED(gmtime)
#undef localtime
#define localtime(x) HD_BANNED(localtime)
#undef gets
#define gets(x) HD_BANNED(gets)

#endif
