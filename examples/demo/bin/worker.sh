#!/bin/sh
# A worker that polls the api every two seconds and says what it got.
id="$1"
trap 'echo "worker $id: stopping"; exit 0' TERM
while :; do
    answer=$(python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8082/hits").read().decode())' 2>&1)
    echo "worker $id: $answer"
    sleep 2 &
    wait $!
done
