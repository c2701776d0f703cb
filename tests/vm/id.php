<?php
// fcgi_checks (tests/vm/checks.sh): who serves this request, as the kernel sees it.
header('Content-Type: text/plain');
echo 'uid=', posix_getuid(), "\n";
echo 'gid=', posix_getgid(), "\n";
echo 'context=', rtrim(file_get_contents('/proc/self/attr/current'), "\0\n"), "\n";
echo 'script=', $_SERVER['SCRIPT_FILENAME'] ?? '', "\n";
echo 'remote_user=', $_SERVER['REMOTE_USER'] ?? '', "\n";
