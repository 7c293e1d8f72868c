#!/usr/bin/env bats
# bedup-json: NUL-terminated tokens in, JSON out that jq parses, exact for
# any bytes a name may hold; bad tokens skipped with a note, the output
# still JSON.

load helpers

# tokens TOKEN...: the tokens as bedup-json reads them
tokens() { printf '%s\0' "$@"; }

@test "strings: any UTF-8 comes back from jq byte for byte" {
	requires jq
	local s
	for s in 'plain' 'a"b' 'back\slash' $'new\nline' $'tab\tcr\r' $'\x01\x1f\x7f' \
		'é ü 日本 😀' '' ' ' '\u0041' '\\n'; do
		run --separate-stderr bash -c 'printf "%s\0" "=$1" | bedup-json | jq -j .' _ "$s"
		assert_success
		assert_equal "$output" "$s"
		assert_equal "$stderr" ""
	done
	run --separate-stderr bedup-json < <(tokens $'=\x01\x7f"\\')
	assert_success
	assert_output '"\u0001\u007f\"\\"'
}

@test "strings that are not UTF-8: the array of their bytes" {
	requires jq
	local s want
	# Latin-1, a lone continuation, overlong "/", a surrogate, past
	# U+10FFFF, a sequence cut short, and one bad byte in good text
	for s in $'caf\xe9' $'\x80' $'\xc0\xaf' $'\xed\xa0\x80' $'\xf4\x90\x80\x80' \
		$'\xe2\x82' $'ok\xffok'; do
		want=$(printf '%s' "$s" | od -An -tu1 | xargs | tr ' ' ,)
		run --separate-stderr bedup-json < <(tokens "=$s")
		assert_success
		assert_output "[$want]"
		run jq -c . <<<"$output"
		assert_success
		assert_output "[$want]"
	done
}

@test "objects, arrays, numbers, keywords; one line per top-level value" {
	requires jq
	run --separate-stderr bedup-json < <(tokens { :n '#0' :neg '#-12' :big '#18446744073709551615' \
		:l [ true false null '=x' { } [ ] ] $':k\ney' '=v' } '#7' '=top')
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${lines[0]}" '{"n":0,"neg":-12,"big":18446744073709551615,"l":[true,false,null,"x",{},[]],"k\ney":"v"}'
	assert_equal "${lines[1]}" 7
	assert_equal "${lines[2]}" '"top"'
	assert_equal "${#lines[@]}" 3
	run jq -s -c '.[0].l, .[1]' <<<"$output"
	assert_success
	assert_output '[true,false,null,"x",{},[]]
7'
}

@test "bad tokens: skipped with a note, exit 1, the output still JSON" {
	requires jq
	run --separate-stderr bedup-json < <(tokens { :a '#01' '#1.5' '#' '#1e3' x '' :b :c '=1' \
		'=no key' ] [ '#1' } :d)
	assert_failure 1
	assert_equal "$stderr" "bedup-json: token 3: not an integer
bedup-json: token 4: not an integer
bedup-json: token 5: not an integer
bedup-json: token 6: not an integer
bedup-json: token 7: unknown token
bedup-json: token 8: empty token
bedup-json: token 9: a key after a key
bedup-json: token 10: a key after a key
bedup-json: token 12: a value in an object without a key
bedup-json: token 13: a close that matches no open
bedup-json: token 14: a value in an object without a key
bedup-json: token 15: a value in an object without a key
bedup-json: token 17: a key outside an object"
	assert_output '{"a":"1"}'
	# and what is left open at the end is closed
	run --separate-stderr bedup-json < <(tokens [ { :k [ '#1')
	assert_failure 1
	assert_output '[{"k":[1]}]'
	assert_equal "$stderr" "bedup-json: end of input inside a value: closed"
	run --separate-stderr bedup-json < <(tokens { :k)
	assert_failure 1
	assert_output '{"k":null}'
	assert_equal "$stderr" "bedup-json: end of input inside a value: closed
bedup-json: token 2: a key without a value: null"
}

@test "no input, no output; the last token without its NUL still counts" {
	run --separate-stderr bedup-json </dev/null
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	run --separate-stderr bedup-json < <(printf '=a\0=b')
	assert_failure 1
	assert_equal "$output" '"a"
"b"'
	assert_equal "$stderr" "bedup-json: token 2: no NUL at the end of the input"
}

@test "usage: -h on stdout, a bad option or two files is exit 2" {
	run --separate-stderr bedup-json -h
	assert_success
	assert_output "usage: bedup-json [FILE]"
	run --separate-stderr bedup-json -x
	assert_failure 2
	assert_output ""
	assert_equal "${stderr_lines[1]}" "usage: bedup-json [FILE]"
	run --separate-stderr bedup-json a b
	assert_failure 2
	run --separate-stderr bedup-json /nonexistent
	assert_failure 2
	assert_equal "$stderr" "bedup-json: /nonexistent: No such file or directory"
}
