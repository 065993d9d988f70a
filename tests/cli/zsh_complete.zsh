# zsh zsh_complete.zsh SCRIPT WORD...: the line after a TAB at the end of WORD..., typed into an
# interactive zsh on a pseudo-terminal with the completion system and SCRIPT loaded: autoloaded
# from its folder when it is named `_lake`, as a file on $fpath is, or else sourced.
zmodload zsh/zpty
zpty shell zsh -f -i
if [[ ${1:t} == _lake ]]; then
  zpty -w shell "fpath=(${(q)1:h} \$fpath); PROMPT=''; autoload -U compinit; compinit -u -D"
else
  zpty -w shell "PROMPT=''; autoload -U compinit; compinit -u -D; source ${(q)1}"
fi
# Ctrl-X prints the line between markers, once the TAB before it has completed.
zpty -w shell "show-line() { zle -I; print -r -- \"<<\$BUFFER>>\" }; zle -N show-line; bindkey '^X' show-line; print ready"
zpty -r shell line '*ready*'
zpty -w -n shell "${(j: :)@[2,-1]}"$'\t\x18'
zpty -r shell out '*<<*>>*'
zpty -d shell
out=${out##*<<}
print -r -- "${out%%>>*}"
