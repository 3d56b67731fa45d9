/*
 * test_smb_path: the checks that keep a path inside its share and a
 * share url well formed (backends/smb.c), without a server.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "smb.h"
#include "tap.h"

static void test_paths(void)
{
	CHECK_INT(smb_path_check(""), 0);
	CHECK_INT(smb_path_check("a.txt"), 0);
	CHECK_INT(smb_path_check("Ürün Görselleri/şemsiye.jpg"), 0);
	CHECK_INT(smb_path_check("100% pamuk.jpg"), 0);
	CHECK_INT(smb_path_check("a/b/c.d"), 0);
	CHECK_INT(smb_path_check(".hidden"), 0);
	CHECK_INT(smb_path_check("..."), 0);

	CHECK_INT(smb_path_check(".."), -EINVAL);
	CHECK_INT(smb_path_check("../x"), -EINVAL);
	CHECK_INT(smb_path_check("a/../b"), -EINVAL);
	CHECK_INT(smb_path_check("a/.."), -EINVAL);
	CHECK_INT(smb_path_check("./a"), -EINVAL);
	CHECK_INT(smb_path_check("/a"), -EINVAL);
	CHECK_INT(smb_path_check("a/"), -EINVAL);
	CHECK_INT(smb_path_check("a//b"), -EINVAL);
	CHECK_INT(smb_path_check("a\\b"), -EINVAL);
	CHECK_INT(smb_path_check("a%2fb"), -EINVAL);
	CHECK_INT(smb_path_check("a%2F..%2Fb"), -EINVAL);
	CHECK_INT(smb_path_check("a%5cb"), -EINVAL);
	CHECK_INT(smb_path_check("a%00b"), -EINVAL);
	CHECK_INT(smb_path_check(NULL), -EINVAL);

	CHECK_INT(smb_path_check("a:stream"), -ENOENT);
	CHECK_INT(smb_path_check("a*"), -ENOENT);
	CHECK_INT(smb_path_check("a?"), -ENOENT);
	CHECK_INT(smb_path_check("a\tb"), -ENOENT);
}

static void test_long_names(void)
{
	char name[300];

	memset(name, 'x', sizeof(name));
	name[255] = '\0';
	CHECK_INT(smb_path_check(name), 0);
	name[255] = 'x';
	name[256] = '\0';
	CHECK_INT(smb_path_check(name), -ENAMETOOLONG);
}

static void test_urls(void)
{
	char err[256];
	const char *tr = "SMB://fs:4450/g/Ürün Resim";

	CHECK_INT(smb_url_check("smb://fs/gorseller", err, sizeof(err)), 0);
	CHECK_INT(smb_url_check(tr, err, sizeof(err)), 0);
	CHECK_INT(smb_url_check("smb://fs/g/%C3%9Cr%C3%BCn/", err, sizeof(err)),
		  0);
	CHECK_INT(smb_url_check("smb://[::1]:445/g", err, sizeof(err)), 0);

	CHECK_INT(smb_url_check("http://fs/g", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs/", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://u:p@fs/g", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "user") != NULL);
	CHECK_INT(smb_url_check("smb://fs:0/g", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs:99999/g", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs:44a/g", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs/g/../h", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs/g/%2e%2e/h", err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(smb_url_check("smb://fs/g/a%2fb", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs/g/%zz", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs/g/%4", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check("smb://fs/g?x=1", err, sizeof(err)), -EINVAL);
	CHECK_INT(smb_url_check(NULL, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	test_paths();
	test_long_names();
	test_urls();
	return tap_done("smb_path");
}
