# SPDX-License-Identifier: BSD-2-Clause
# bash completion for tpm-provision(8)                     -*- shell-script -*-
#
# Commands, each command's options (as its --help lists them; the test
# tests/unit/completion.sh keeps the two in step), files or directories for
# options that take them, and the values of options with a fixed set.

_tpm_provision_options() {
	local common='--config --json --verbose --quiet --help'
	local tpm='--thing-name --tcti --key-handle --out-dir --key-file --deadline'
	local svc='--region --endpoint-url --signing-name --ca-bundle --insecure-http-loopback'
	local agent='--iot-endpoint --root-ca --agent --agent-config --owner --attach-thing --policy'
	local newkey='--key-alg --key-auth-file --rsa-pss'
	case $1 in
	enroll) echo "$common $tpm $svc $agent $newkey --force-new-key" ;;
	register) echo "$common $tpm $svc $agent --cert --ca-cert --no-ca --status" ;;
	csr) echo "$common $tpm $newkey --force-new-key --out" ;;
	install) echo "$common $tpm $svc $agent --cert" ;;
	batch) echo "$common $svc --out-dir --deadline --attach-thing --policy --csr-dir --parallel --rate --resend-unanswered" ;;
	status) echo "$common --tcti --out-dir" ;;
	check) echo "$common $tpm $svc $agent $newkey" ;;
	esac
}

_tpm_provision() {
	local cur prev cmd i
	local commands='enroll register csr install batch status check help'

	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}

	# The command: the first word after the program that is not an option.
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W '--help --version' -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		fi
		return 0
	fi
	if [[ $cmd == help ]]; then
		((COMP_CWORD == i + 1)) && mapfile -t COMPREPLY < <(compgen -W "${commands% help}" -- "$cur")
		return 0
	fi

	# The value of the option before.
	case $prev in
	--config | --ca-bundle | --root-ca | --key-file | --key-auth-file | --agent-config | --cert | --ca-cert | --out)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	--out-dir | --csr-dir)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return 0
		;;
	--agent)
		mapfile -t COMPREPLY < <(compgen -W 'env openssl aws-iot-device-client pkcs11' -- "$cur")
		return 0
		;;
	--key-alg)
		mapfile -t COMPREPLY < <(compgen -W 'ecc-p256 ecc-p384 rsa-2048 rsa-3072' -- "$cur")
		return 0
		;;
	--signing-name)
		mapfile -t COMPREPLY < <(compgen -W 'iot execute-api' -- "$cur")
		return 0
		;;
	--status)
		mapfile -t COMPREPLY < <(compgen -W 'ACTIVE INACTIVE' -- "$cur")
		return 0
		;;
	--tcti)
		mapfile -t COMPREPLY < <(compgen -W 'device:/dev/tpmrm0 device:/dev/tpm0 tabrmd: swtpm:host=127.0.0.1,port=2321 mssim:' -- "$cur")
		compopt -o nospace 2>/dev/null
		return 0
		;;
	--owner)
		mapfile -t COMPREPLY < <(compgen -u -- "$cur")
		return 0
		;;
	--thing-name | --key-handle | --region | --endpoint-url | --iot-endpoint | --policy | --deadline | --parallel | --rate)
		# A value only the operator knows.
		return 0
		;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_tpm_provision_options "$cmd")" -- "$cur")
	fi
	return 0
} &&
	complete -F _tpm_provision tpm-provision

# ex: filetype=sh
