#!/usr/bin/perl
# Turns mbox fixtures into Maildirs and prints folders in one comparable form.
#
#   maildir-conv.pl split MBOX DIR   writes each message of MBOX into the
#                                    Maildir DIR (new/, cur/ and tmp/ made)
#   maildir-conv.pl dump-mbox MBOX   prints the messages of MBOX
#   maildir-conv.pl dump-maildir DIR prints the messages of the Maildir DIR
#   maildir-conv.pl dump-maildirs    the same for many Maildirs from one
#                                    process: for each line "DIR<TAB>FILE"
#                                    read, writes DIR's dump into FILE,
#                                    then prints "FILE" on a line
#
# A message file is the mbox message minus its "From " line and minus the
# empty line that separates it from the next one, every other octet (CRLF,
# ">From " quoting, a missing final newline) left as it is. Separators are
# recognised as c-client does: a "From " line that is the first line or
# follows an empty line and ends in a ctime-style date. Odd messages go to
# new/, even ones to cur/ with ":2,S", so that both are read. Names start
# with increasing delivery times, so that their order is the mbox's.
use strict;
use warnings;

my $day = qr/(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)/i;
my $mon = qr/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/i;
my $zone = qr/(?:[+-]\d{4}|[A-Za-z]{3,5})/;
my $date = qr/$day +$mon +\d{1,2} +\d\d:\d\d(?::\d\d)?(?: +$zone)? +\d{4}(?: +$zone)?/;

sub is_separator {
	my ($line) = @_;
	$line =~ s/\r?\n\z//;
	$line =~ s/ +remote from \S+ *\z//;
	return $line =~ /\AFrom +\S.* +$date *\z/;
}

sub read_file {
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or die "$path: $!\n";
	local $/;
	my $s = <$fh>;
	close($fh);
	return defined $s ? $s : '';
}

# The messages of an mbox, as the list of their text.
sub split_mbox {
	my ($text) = @_;
	my @lines = $text =~ /([^\n]*\n|[^\n]+\z)/g;
	my (@msgs, $cur);
	my $prev_empty = 1;
	for my $l (@lines) {
		my $empty = $l eq "\n" || $l eq "\r\n";
		if ($prev_empty && $l =~ /\AFrom / && is_separator($l)) {
			if (defined $cur) {
				# The empty line before a separator belongs to it.
				$cur =~ s/\r?\n\z//;
				push @msgs, $cur;
			}
			$cur = '';
			$prev_empty = 0;
			next;
		}
		$cur .= $l if defined $cur;
		$prev_empty = $empty;
	}
	if (defined $cur) {
		# So does a single empty line at the end of the file.
		$cur =~ s/(?<=\n)\r?\n\z// or $cur =~ s/\A\r?\n\z//;
		push @msgs, $cur;
	}
	return @msgs;
}

sub write_file {
	my ($path, $s) = @_;
	open(my $fh, '>:raw', $path) or die "$path: $!\n";
	print $fh $s or die "$path: $!\n";
	close($fh) or die "$path: $!\n";
}

sub dump_msgs {
	my $i = 0;
	for my $m (@_) {
		$i++;
		print "--- message $i, ", length($m), " octets\n", $m, "\n";
	}
}

# The files of a Maildir in delivery order.
sub maildir_files {
	my ($dir) = @_;
	my @f;
	for my $sub ('new', 'cur') {
		opendir(my $dh, "$dir/$sub") or next;
		push @f, map { "$sub/$_" } grep { !/\A\./ } readdir($dh);
		closedir($dh);
	}
	my $key = sub { my ($b) = $_[0] =~ m{/([^:]*)}; $b };
	my $t = sub { $_[0] =~ /\A(\d+)/ ? $1 : 9e18 };
	return sort { $t->($key->($a)) <=> $t->($key->($b)) ||
	    $key->($a) cmp $key->($b) } @f;
}

my $cmd = shift // '';
if ($cmd eq 'split' && @ARGV == 2) {
	my ($mbox, $dir) = @ARGV;
	mkdir($dir);
	mkdir("$dir/$_") for qw(new cur tmp);
	my $i = 0;
	for my $m (split_mbox(read_file($mbox))) {
		$i++;
		my $name = sprintf('%d.M%06dP%d.pop2.test', 1700000000 + $i, $i, $$);
		my $path = $i % 2 ? "$dir/new/$name" : "$dir/cur/$name:2,S";
		write_file($path, $m);
	}
} elsif ($cmd eq 'dump-mbox' && @ARGV == 1) {
	dump_msgs(split_mbox(read_file($ARGV[0])));
} elsif ($cmd eq 'dump-maildir' && @ARGV == 1) {
	dump_msgs(map { read_file("$ARGV[0]/$_") } maildir_files($ARGV[0]));
} elsif ($cmd eq 'dump-maildirs' && @ARGV == 0) {
	$| = 1;
	while (my $line = <STDIN>) {
		chomp($line);
		my ($dir, $file) = split(/\t/, $line, 2);
		die "dump-maildirs: want DIR<TAB>FILE, got: $line\n" unless defined $file;
		open(my $out, '>:raw', $file) or die "$file: $!\n";
		my $stdout = select($out);
		dump_msgs(map { read_file("$dir/$_") } maildir_files($dir));
		select($stdout);
		close($out) or die "$file: $!\n";
		print "$file\n";
	}
} else {
	die "usage: maildir-conv.pl split MBOX DIR | dump-mbox MBOX | dump-maildir DIR | dump-maildirs\n";
}
