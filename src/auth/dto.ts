/** Request and answer bodies of /api/v1/tokens (they validate requests and make the OpenAPI document). */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsISO8601, IsOptional, IsString, Matches, ValidateNested } from 'class-validator';
import { KINDS } from '../model/resources.js';
import { ROLES } from './roles.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_MESSAGE = 'must be a DNS-1123 label (lower-case letters, digits and "-", starting and ending with a letter or digit)';

/** What a token may touch besides its role; each list that is given narrows it. */
export class TokenScopesDto {
  @ApiPropertyOptional({ enum: KINDS, isArray: true, description: 'only these resource kinds' })
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(KINDS.length) @ArrayUnique() @IsIn(KINDS as unknown as string[], { each: true })
  kinds?: (typeof KINDS)[number][];

  @ApiPropertyOptional({ type: [String], example: ['shop'], description: 'only Configs of these namespaces' })
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100) @ArrayUnique() @Matches(DNS_LABEL, { each: true, message: `each item ${DNS_MESSAGE}` })
  namespaces?: string[];

  @ApiPropertyOptional({ type: [String], example: ['echo'], description: 'only these Services and their endpoints (a registration token: operator with services [A] registers, heartbeats and drains A\'s endpoints)' })
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100) @ArrayUnique() @Matches(DNS_LABEL, { each: true, message: `each item ${DNS_MESSAGE}` })
  services?: string[];
}

/** POST /api/v1/tokens. Everything else (id, secret, createdAt, createdBy) is the server's. */
export class CreateTokenDto {
  @ApiProperty({ example: 'ci-deploy', description: 'names the token in the change log (token:<name>); unique' })
  @IsString({ message: 'is required' }) @Matches(DNS_LABEL, { message: DNS_MESSAGE })
  name!: string;

  @ApiProperty({ enum: ROLES, isArray: true, example: ['editor'], description: 'each role includes the ones before it: viewer < operator < editor < admin' })
  @IsArray() @ArrayMinSize(1) @ArrayUnique() @IsIn(ROLES as unknown as string[], { each: true })
  roles!: (typeof ROLES)[number][];

  @ApiPropertyOptional({ format: 'date-time', description: 'the token stops working at this time (absent: never)' })
  @IsOptional() @IsISO8601({ strict: true }, { message: 'must be an ISO 8601 date-time' })
  expiresAt?: string;

  @ApiPropertyOptional({ type: TokenScopesDto })
  @IsOptional() @ValidateNested() @Type(() => TokenScopesDto)
  scopes?: TokenScopesDto;
}

/** A stored token (never its secret). */
export class TokenDto {
  @ApiProperty({ example: '3f9c0a1b2c3d4e5f', description: 'the <id> in sy_<id>_<secret>' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES, isArray: true }) roles!: string[];
  @ApiProperty({ type: TokenScopesDto }) scopes!: TokenScopesDto;
  @ApiPropertyOptional({ format: 'date-time' }) expiresAt?: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ description: 'who created it (token:<name>, jwt:<sub>, or the actor with AUTH_MODE=none)' }) createdBy!: string;
}

/** The answer to a create: the only time the secret is shown. */
export class CreatedTokenDto extends TokenDto {
  @ApiProperty({ example: 'sy_3f9c0a1b2c3d4e5f_…', description: 'send as Authorization: Bearer <secret>; shown only now (the server keeps a hash)' }) secret!: string;
}

export class TokenListDto {
  @ApiProperty({ type: [TokenDto], description: 'every token, by name' }) items!: TokenDto[];
}

export class DeletedTokenDto {
  @ApiProperty({ type: TokenDto, description: 'the token deleted; it stops working at once on this replica, within 5 s on the others' }) deleted!: TokenDto;
}
