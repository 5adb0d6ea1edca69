S=${DOCKER_HOST#unix://}
echo "== plain tar, chunked"; timeout 60 curl -sS --unix-socket $S -H 'Content-Type: application/tar' -H 'Transfer-Encoding: chunked' --data-binary @/tmp/bld/c.tar 'http://x/build?t=a:1' | tail -3
echo "== gzip tar, content-length"; timeout 60 curl -sS --unix-socket $S -H 'Content-Type: application/tar' --data-binary @/tmp/bld/c.tgz 'http://x/build?t=a:2' | tail -3
echo "== gzip tar, chunked"; timeout 60 curl -sS --unix-socket $S -H 'Content-Type: application/tar' -H 'Transfer-Encoding: chunked' --data-binary @/tmp/bld/c.tgz 'http://x/build?t=a:3' | tail -3
